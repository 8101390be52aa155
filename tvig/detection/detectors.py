"""Registry of anomalib detectors, unchanged, and whether their pretrained weights are here.

The paper's four (PatchCore R18, CFlow R18, EfficientAd, Reverse Distillation WRN50), PaDiM,
``patchcore`` for the user's own timm backbone (``backbone=``, ``layers=``; see
:mod:`tvig.detection.backbones`, also for PaDiM and CFlow) and the few-shot state of the art
as reference rows (AnomalyDINO, WinCLIP; :mod:`tvig.detection.few_shot`). ``anchor`` is each
model's published image AUROC on MVTec AD with its source.

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
from typing import Any, Sequence

from tvig.detection.backbones import (
    Backbone,
    backbone_weights_cached,
    padim_features,
    resolve_backbone,
)
from tvig.detection.efficient_ad import efficient_ad
from tvig.detection.few_shot import (
    WINCLIP_STANDIN,
    anomaly_dino,
    winclip,
    winclip_weights_cached,
)
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
    own_backbone: bool = False  # takes any timm backbone + layers (PaDiM, PatchCore, CFlow)
    anchor: str = ""  # published image AUROC on MVTec AD, with its source


_WINCLIP = "WinCLIP paper (Jeong et al., CVPR 2023, arXiv 2303.14814), 1-shot table"
_PATCHCORE = dict(layers=("layer2", "layer3"), coreset_sampling_ratio=0.1, num_neighbors=9)
DETECTORS: dict[str, DetectorSpec] = {d.name: d for d in (
    DetectorSpec("padim", "Padim", "resnet18", dict(layers=["layer1", "layer2", "layer3"]),
                 min_train=2, own_backbone=True,  # its per-position covariance divides by n - 1
                 description="PaDiM, resnet18 layers 1-3: fast on CPU, needs >= 2 images",
                 anchor=f"76.6 at 1-shot ({_WINCLIP})"),
    DetectorSpec("patchcore", "Patchcore", "resnet18", _PATCHCORE, own_backbone=True,
                 description="PatchCore on your timm backbone (--backbone NAME [--layers ...]); "
                 "resnet18 layers 2+3 by default",
                 anchor=f"83.4 at 1-shot ({_WINCLIP})"),
    DetectorSpec("patchcore_r18", "Patchcore", "resnet18", _PATCHCORE, own_backbone=True,
                 description="PatchCore, resnet18 layers 2+3 (the paper's table)",
                 anchor=f"83.4 at 1-shot ({_WINCLIP})"),
    DetectorSpec("patchcore_wrn50", "Patchcore", "wide_resnet50_2", _PATCHCORE,
                 own_backbone=True,
                 description="PatchCore, wide_resnet50_2 layers 2+3 (anomalib's default)",
                 anchor="99.1 full-shot, 25 % coreset (Roth et al., CVPR 2022, arXiv 2106.08265)"),
    DetectorSpec("cflow", "Cflow", "resnet18", dict(layers=("layer2", "layer3", "layer4")),
                 epochs=50, own_backbone=True,
                 description="CFlow-AD, resnet18 (CFlow-R18 as in the paper's table)",
                 anchor="98.26 full-shot, WRN50 (Gudovskiy et al., WACV 2022, arXiv 2107.12571)"),
    DetectorSpec("reverse_distillation", "ReverseDistillation", "wide_resnet50_2",
                 dict(layers=("layer1", "layer2", "layer3")), epochs=200,
                 description="Reverse Distillation, wide_resnet50_2",
                 anchor="98.5 full-shot (Deng & Li, CVPR 2022, arXiv 2201.10703)"),
    DetectorSpec("efficient_ad", "EfficientAd", None, dict(model_size="small"), epochs=100,
                 train_batch_size=1, min_image_size=256,
                 description="EfficientAd-S (teacher and ImageNette stand-ins when offline)",
                 anchor="98.8 full-shot, EfficientAD-S (Batzner et al., WACV 2024, "
                 "arXiv 2303.14535)"),
    DetectorSpec("anomaly_dino", "AnomalyDINO", "vit_small_patch14_dinov2",
                 dict(num_neighbours=1, masking=False, coreset_subsampling=False),
                 min_image_size=28,
                 description="AnomalyDINO, DINOv2 ViT-S/14 memory bank (few-shot reference row)",
                 anchor="96.6 at 1-shot (Damm et al., WACV 2025, arXiv 2405.14529)"),
    DetectorSpec("winclip", "WinClip", "ViT-B-16-plus-240", dict(scales=(2, 3)),
                 description="WinCLIP+, CLIP ViT-B-16+ (LAION-400M), every training image a "
                 "reference, fixed 240 px (few-shot reference row)",
                 anchor=f"93.1 at 1-shot ({_WINCLIP})"),
)}
OWN_BACKBONE = [n for n, d in DETECTORS.items() if d.own_backbone]

NOT_MEANINGFUL = ("!! {model}: {what} not available offline -> RANDOM {part} "
                  "(pre_trained=False). Its scores are NOT meaningful; fetch the weights online "
                  "(first use of anomalib/timm downloads them) for real numbers.")


def get_detector(name: str) -> DetectorSpec:
    """The registry entry; unknown names raise an error listing the valid ones."""
    if name not in DETECTORS:
        raise InputError(choices_text("model", name, list(DETECTORS)))
    return DETECTORS[name]


def efficient_ad_teacher_path(model_size: str = "small") -> Path:
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.utils.path import get_pretrained_weights_dir

    return (get_pretrained_weights_dir() / "efficientad_pretrained_weights" /
            f"pretrained_teacher_{model_size}.pth")


def weights_available(spec: DetectorSpec, backbone: str | None = None) -> bool:
    if spec.cls == "EfficientAd":
        return efficient_ad_teacher_path(spec.kwargs.get("model_size", "small")).is_file()
    if spec.cls == "WinClip":
        return winclip_weights_cached()
    return backbone_weights_cached(backbone or spec.backbone)


def fetch_hint(spec: DetectorSpec, backbone: str | None = None) -> str:
    """The one online command that caches ``spec``'s weights."""
    if spec.cls == "WinClip":
        return ("python -c \"import open_clip; open_clip.create_model('ViT-B-16-plus-240', "
                "pretrained='laion400m_e31')\"")
    return (f"python -c \"import timm; timm.create_model('{backbone or spec.backbone}', "
            "pretrained=True)\"")


def resolve_pretrained(spec: DetectorSpec, pretrained: bool | None,
                       backbone: str | None = None) -> bool:
    """``None`` = use weights when cached; ``True`` without them is a clear error."""
    available = weights_available(spec, backbone)
    if pretrained and not available:
        what = (efficient_ad_teacher_path() if spec.cls == "EfficientAd"
                else f"the weights of {backbone or spec.backbone}")
        raise AssetMissingError(
            f"{spec.name}: pretrained={pretrained} but {what} are not cached and tvig never "
            f"downloads during a run. Fetch them once online (e.g. {fetch_hint(spec, backbone)})"
            ", or pass pretrained=None to fall back to a random backbone.")
    return available if pretrained is None else bool(pretrained)


def model_backbone(name: str, backbone: str | None = None,
                   layers: Sequence[str] | None = None) -> Backbone | None:
    """The checked backbone of ``name`` (``None`` for models with their own network);
    a bad timm name or layer fails here, before any training."""
    spec = get_detector(name)
    if not spec.own_backbone:
        if backbone is not None or layers is not None:
            raise InputError(f"{name} keeps its own network; --backbone/--layers apply to "
                             f"{', '.join(OWN_BACKBONE)}")
        return None
    return resolve_backbone(backbone or spec.backbone, layers, spec.kwargs["layers"])


def backbone_label(name: str, backbone: str | None = None,
                   layers: Sequence[str] | None = None) -> str:
    """The results table's ``backbone``: the model's default name, else ``NAME:L1+L2``."""
    spec = get_detector(name)
    bb = model_backbone(name, backbone, layers)
    if bb is None:
        return spec.backbone or "pdn_" + spec.kwargs["model_size"]
    default = bb.name == spec.backbone and bb.layers == tuple(spec.kwargs["layers"])
    return spec.backbone if default else bb.label


@dataclass
class DetectorInfo:
    name: str
    backbone: str  # backbone_label
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
                   backbone: str | None = None, layers: Sequence[str] | None = None,
                   imagenet_dir: "str | Path | None" = None):
    """An anomalib model (unchanged) plus a :class:`DetectorInfo` saying what it runs on.

    ``backbone``/``layers``: any timm ``features_only`` model for PaDiM, PatchCore and CFlow
    (default layers by stride, see :mod:`tvig.detection.backbones`). Metrics are computed on
    raw scores (normalisation off): image AUROC, pixel AUROC, AUPRO.
    """
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    import anomalib.models as M

    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.post_processing import PostProcessor

    spec = get_detector(name)
    if image_size < spec.min_image_size:
        raise InputError(f"{name} needs image_size >= {spec.min_image_size}, got {image_size}")
    bb = model_backbone(name, backbone, layers)
    use_weights = resolve_pretrained(spec, pretrained, bb.name if bb else None)
    info = DetectorInfo(name, backbone_label(name, backbone, layers), use_weights, spec.epochs,
                        spec.train_batch_size, "")
    if not use_weights:
        part = {"EfficientAd": "teacher", "WinClip": f"small CLIP stand-in ({WINCLIP_STANDIN})"
                }.get(spec.cls, "backbone")
        what = {"EfficientAd": f"teacher weights ({efficient_ad_teacher_path()})",
                "WinClip": "CLIP weights (ViT-B-16-plus-240, laion400m_e31)"}.get(
                    spec.cls, f"backbone weights ({bb.name if bb else spec.backbone})")
        info.note = NOT_MEANINGFUL.format(model=name, what=what + " are", part=part)
    cls = getattr(M, spec.cls)
    common = dict(pre_processor=cls.configure_pre_processor(image_size=(image_size, image_size))
                  if spec.cls != "WinClip" else None,
                  post_processor=PostProcessor(enable_normalization=False),
                  evaluator=_evaluator(), visualizer=False)
    if spec.cls == "EfficientAd":
        return efficient_ad(spec.kwargs, use_weights, imagenet_dir, **common), info
    if spec.cls == "AnomalyDINO":
        return anomaly_dino(dict(spec.kwargs, encoder_name=spec.backbone), use_weights,
                            **common), info
    if spec.cls == "WinClip":
        return winclip(spec.kwargs, use_weights, **common), info
    kwargs = dict(spec.kwargs, backbone=bb.name, layers=list(bb.layers), pre_trained=use_weights)
    if spec.cls == "Padim":
        kwargs["n_features"] = padim_features(bb)
    if spec.cls == "Cflow":  # >= 1 fiber batch even for one small image (layer4 is size/32)
        kwargs["fiber_batch_size"] = max(1, min(64, (image_size // 32) ** 2))
    return cls(**kwargs, **common), info
