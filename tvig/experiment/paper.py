"""The paper's published numbers, to print beside ours.

Source: the authors' README of Lee & Choi, "Text-Guided Variational Image Generation for
Industrial Anomaly Detection and Segmentation", CVPR 2024 (arXiv 2403.06247), as recorded in
tvig's DESIGN.md "Reference facts": MVTec AD image AUROC, mean over the 15 classes. Whether
these rows include generated images is not stated there; "few-shot" is read as k = 5.

Example:
    >>> paper_mean("patchcore_r18", 1)
    0.839
    >>> paper_class("patchcore_r18", 1, "screw"), paper_class("patchcore_r18", 5, "screw")
    (0.538, None)
"""

from __future__ import annotations

CITATION = ("Lee & Choi, CVPR 2024 (arXiv 2403.06247), authors' README: MVTec AD image AUROC; "
            "whether these rows include generated images is not stated; few-shot read as k=5")
DATASET = "mvtec_ad"

# (model, k) -> mean image AUROC over the 15 MVTec AD classes
MEANS = {("patchcore_r18", "1"): 0.839, ("patchcore_r18", "5"): 0.914,
         ("patchcore_r18", "all"): 0.978, ("cflow", "1"): 0.842, ("cflow", "5"): 0.902,
         ("cflow", "all"): 0.937}
# the hardest 1-shot classes for PatchCore-R18 in the same README
CLASSES = {("patchcore_r18", "1"): {"screw": 0.538, "capsule": 0.636, "grid": 0.649,
                                    "transistor": 0.718, "pill": 0.720}}


def paper_mean(model: str, k: "int | str") -> float | None:
    return MEANS.get((model, str(k)))


def paper_class(model: str, k: "int | str", category: str) -> float | None:
    return CLASSES.get((model, str(k)), {}).get(category)


__all__ = ["CITATION", "DATASET", "paper_mean", "paper_class"]
