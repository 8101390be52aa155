"""Registry of anomalib detectors, unchanged, and whether their pretrained weights are here.

``pre_trained`` follows the asset availability: the backbone's timm weights are looked up in
the Hugging Face / torch hub caches *without network*; offline and missing, the detector gets
a random backbone and a loud note that its scores are not meaningful.

EfficientAd downloads its pretrained teacher and ImageNette at fit start. When they are not
on disk, tvig uses labelled stand-ins instead of downloading: a random teacher and a small
ImageFolder made of the run's own training images (scores meaningless, like a random backbone).

Example:
    >>> from tvig.detection.detectors import build_detector
    >>> model, info = build_detector("padim", image_size=64, pretrained=None)   # doctest: +SKIP
    >>> info.pretrained, info.note                                               # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tvig.detection.efficient_ad import efficient_ad
from tvig.errors import AssetMissingError, InputError, choices_text


@dataclass(frozen=True)
class DetectorSpec:
    name: str
    cls: str  # anomalib.models class name
    backbone: str | None  # timm name; None = the model has its own (EfficientAd)
    kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = 1  # default max_epochs (1 for memory-bank models, which do not train)
    train_batch_size: int | None = None  # forced batch size (EfficientAd: 1)
    min_image_size: int = 32
    min_train: int = 1  # fewest training images the model is defined for
    description: str = ""


DETECTORS: dict[str, DetectorSpec] = {d.name: d for d in (
    DetectorSpec("padim", "Padim", "resnet18", dict(layers=["layer1", "layer2", "layer3"]),
                 min_train=2,  # its per-position covariance divides by n - 1
                 description="PaDiM, resnet18 layers 1-3: fast on CPU, needs >= 2 images"),
    DetectorSpec("patchcore_r18", "Patchcore", "resnet18",
                 dict(layers=("layer2", "layer3"), coreset_sampling_ratio=0.1, num_neighbors=9),
                 description="PatchCore, resnet18 layers 2+3 (the paper's table)"),
    DetectorSpec("patchcore_wrn50", "Patchcore", "wide_resnet50_2",
                 dict(layers=("layer2", "layer3"), coreset_sampling_ratio=0.1, num_neighbors=9),
                 description="PatchCore, wide_resnet50_2 layers 2+3 (anomalib's default)"),
    DetectorSpec("cflow", "Cflow", "resnet18", dict(layers=("layer2", "layer3", "layer4")),
                 epochs=50, description="CFlow-AD, resnet18 (CFlow-R18 as in the paper's table)"),
    DetectorSpec("reverse_distillation", "ReverseDistillation", "wide_resnet50_2",
                 dict(layers=("layer1", "layer2", "layer3")), epochs=200,
                 description="Reverse Distillation, wide_resnet50_2"),
    DetectorSpec("efficient_ad", "EfficientAd", None, dict(model_size="small"), epochs=100,
                 train_batch_size=1, min_image_size=256,
                 description="EfficientAd-S (teacher and ImageNette stand-ins when offline)"),
)}

NOT_MEANINGFUL = ("!! {model}: {what} not available offline -> RANDOM {part} "
                  "(pre_trained=False). Its scores are NOT meaningful; fetch the weights online "
                  "(first use of anomalib/timm downloads them) for real numbers.")


def get_detector(name: str) -> DetectorSpec:
    """The registry entry; unknown names raise an error listing the valid ones."""
    if name not in DETECTORS:
        raise InputError(choices_text("model", name, list(DETECTORS)))
    return DETECTORS[name]


def backbone_weights_cached(backbone: str) -> bool:
    """True when timm's pretrained weights for ``backbone`` are in a local cache (no network)."""
    from huggingface_hub import try_to_load_from_cache  # heavy: only the cache look-up needs it
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(backbone)
    if cfg is None:
        return False
    if cfg.hf_hub_id:
        repo = cfg.hf_hub_id.split("@")[0]
        for fname in (cfg.hf_hub_filename, "model.safetensors", "pytorch_model.bin"):
            if fname and isinstance(try_to_load_from_cache(repo, fname), str):
                return True
    if cfg.url:
        return (Path(torch.hub.get_dir()) / "checkpoints" / cfg.url.rsplit("/", 1)[-1]).is_file()
    return False


def efficient_ad_teacher_path(model_size: str = "small") -> Path:
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.utils.path import get_pretrained_weights_dir

    return (get_pretrained_weights_dir() / "efficientad_pretrained_weights" /
            f"pretrained_teacher_{model_size}.pth")


def weights_available(spec: DetectorSpec, backbone: str | None = None) -> bool:
    if spec.cls == "EfficientAd":
        return efficient_ad_teacher_path(spec.kwargs.get("model_size", "small")).is_file()
    return backbone_weights_cached(backbone or spec.backbone)


def resolve_pretrained(spec: DetectorSpec, pretrained: bool | None,
                       backbone: str | None = None) -> bool:
    """``None`` = use weights when cached; ``True`` without them is a clear error."""
    available = weights_available(spec, backbone)
    if pretrained and not available:
        what = (efficient_ad_teacher_path() if spec.cls == "EfficientAd"
                else f"timm weights for {backbone or spec.backbone}")
        raise AssetMissingError(
            f"{spec.name}: pretrained={pretrained} but {what} are not cached and tvig never "
            "downloads during a run. Fetch them once online (e.g. python -c \"import timm; "
            f"timm.create_model('{backbone or spec.backbone}', pretrained=True)\"), or pass "
            "pretrained=None to fall back to a random backbone.")
    return available if pretrained is None else bool(pretrained)


@dataclass
class DetectorInfo:
    name: str
    backbone: str
    pretrained: bool
    epochs: int
    train_batch_size: int | None
    note: str = ""


def _evaluator():
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.metrics import AUPRO, AUROC, Evaluator

    return Evaluator(test_metrics=[
        AUROC(fields=["pred_score", "gt_label"], prefix="image_"),
        AUROC(fields=["anomaly_map", "gt_mask"], prefix="pixel_", strict=False),
        AUPRO(fields=["anomaly_map", "gt_mask"], prefix="pixel_", strict=False)])


def build_detector(name: str, *, image_size: int, pretrained: bool | None = None,
                   backbone: str | None = None, imagenet_dir: "str | Path | None" = None):
    """An anomalib model (unchanged) plus a :class:`DetectorInfo` saying what it runs on.

    Metrics are computed on raw scores (normalisation off): image AUROC, pixel AUROC, AUPRO.
    """
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    import anomalib.models as M
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.post_processing import PostProcessor

    spec = get_detector(name)
    if image_size < spec.min_image_size:
        raise InputError(f"{name} needs image_size >= {spec.min_image_size}, got {image_size}")
    use_weights = resolve_pretrained(spec, pretrained, backbone)
    info = DetectorInfo(name, backbone or spec.backbone or "pdn_" + spec.kwargs["model_size"],
                        use_weights, spec.epochs, spec.train_batch_size,
                        "")
    if not use_weights:
        teacher = spec.cls == "EfficientAd"
        info.note = NOT_MEANINGFUL.format(
            model=name, what=f"teacher weights ({efficient_ad_teacher_path()}) are" if teacher
            else f"backbone weights ({info.backbone}) are", part="teacher" if teacher else "backbone")
    cls = getattr(M, spec.cls)
    common = dict(pre_processor=cls.configure_pre_processor(image_size=(image_size, image_size)),
                  post_processor=PostProcessor(enable_normalization=False),
                  evaluator=_evaluator(), visualizer=False)
    if spec.cls == "EfficientAd":

        return efficient_ad(spec.kwargs, use_weights, imagenet_dir, **common), info
    kwargs = dict(spec.kwargs, backbone=info.backbone, pre_trained=use_weights)
    if spec.cls == "Cflow":  # >= 1 fiber batch even for one small image (layer4 is size/32)
        kwargs["fiber_batch_size"] = max(1, min(64, (image_size // 32) ** 2))
    return cls(**kwargs, **common), info
