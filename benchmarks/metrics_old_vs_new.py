"""Old metric path (anomalib's AUROC/AUPRO, batch by batch, as tvig used them before issue 19)
against :mod:`tvig.detection.metrics` on the same raw predictions, unscaled and x100.

Usage: python benchmarks/metrics_old_vs_new.py RUN/**/maps.npz ...  (from tvig detect --maps)
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from anomalib.metrics.aupro import _AUPRO
from anomalib.metrics.auroc import _AUROC

from tvig.detection.metrics import detection_metrics


def old_metrics(scores, labels, maps, masks, batch_size: int = 8) -> list[float]:
    """image AUROC, pixel AUROC, AUPRO the way anomalib's Evaluator computed them."""
    image, pixel, pro = _AUROC(), _AUROC(), _AUPRO(fpr_limit=0.3)
    for i in range(0, len(scores), batch_size):
        b = slice(i, i + batch_size)
        image.update(torch.tensor(scores[b]), torch.tensor(labels[b]).int())
        pixel.update(torch.tensor(maps[b]), torch.tensor(masks[b]).int())
        pro.update(torch.tensor(maps[b]), torch.tensor(masks[b]).int())
    return [round(float(m.compute()), 6) for m in (image, pixel, pro)]


def main(paths: list[str]) -> None:
    print("| maps | scale | old image AUROC | old pixel AUROC | old AUPRO | new image AUROC | "
          "new image AP | new pixel AUROC | new AUPRO |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        with np.load(path) as z:
            for factor in (1, 100):
                s, a = z["pred_score"] * factor, z["anomaly_map"].astype(np.float32) * factor
                old = old_metrics(s, z["gt_label"], a, z["gt_mask"])
                new = detection_metrics(s, z["gt_label"], a, z["gt_mask"]).row()
                print(f"| {path} | x{factor} | " + " | ".join(map(str, old)) + " | "
                      + " | ".join(str(new[k]) for k in ("image_auroc", "image_ap",
                                                         "pixel_auroc", "aupro")) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
