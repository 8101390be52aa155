"""The detection settings of one benchmark: one dataclass, validated once, passed down unchanged.

``tvig detect``, ``tvig experiment``, notebook 04 and :func:`tvig.detection.grid.run_grid`
build a :class:`DetectionConfig` and hand the same object to every run; nothing below
re-checks it.

Example:
    >>> from tvig.detection.config import DetectionConfig
    >>> c = DetectionConfig(models="padim", shots=[1, "5", "full"], seeds=0, device="gpu",
    ...                     image_size=64, check_device=False)
    >>> c.models, c.shots, c.seeds, c.device
    (('padim',), (1, 5, 'all'), (0,), 'cuda')
    >>> DetectionConfig(image_size=0)
    Traceback (most recent call last):
    ...
    tvig.errors.ConfigError: image size must be a positive integer, got 0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

from tvig.detection.datasets import parse_shots
from tvig.detection.detectors import backbone_label, get_detector
from tvig.augmentations import AugmentRules
from tvig.detection.training_sets import TRAIN_SETS
from tvig.errors import ConfigError, InputError, choices_text
from tvig.seeding import resolve_device

DEVICE_WORDS = {"auto": "auto", "cpu": "cpu", "cuda": "cuda", "gpu": "cuda"}
_POSITIVE = {"image_size": "image size", "n_augment": "n_augment (augmented images)",
             "epochs": "epochs", "batch_size": "batch size"}


def _tuple(v: Any) -> tuple:
    return (v,) if isinstance(v, (str, int)) else tuple(v)


@dataclass(frozen=True)
class DetectionConfig:
    """Which detectors, shots, seeds and training sets, and how each detector is trained."""

    models: Sequence[str] = ("patchcore_r18",)
    image_size: int = 256
    shots: Sequence["int | str"] = (1,)
    seeds: Sequence[int] = (0,)
    train_sets: Sequence[str] = TRAIN_SETS
    device: str = "cpu"  # auto, cpu, cuda (gpu = cuda): Lightning's accelerator
    augment: AugmentRules | None = None  # the control (c); None = the class's own rules
    n_augment: int | None = None  # images of (c); None = as many as the generated set
    epochs: int | None = None  # None = the detector's default
    batch_size: int = 8
    backbone: str | None = None  # None = the detector's timm backbone
    layers: Sequence[str] | None = None  # the backbone's feature layers; None = by stride
    pretrained: bool | None = None  # None = pretrained backbone weights only when cached
    keep_maps: bool = False  # save test-set anomaly maps for the figures
    download: bool = False  # let anomalib download MVTec AD / BTAD
    check_device: bool = True  # False: accept cuda without a GPU here (a Ray cluster's nodes)

    def __post_init__(self) -> None:
        for name in ("models", "shots", "seeds", "train_sets"):
            object.__setattr__(self, name, _tuple(getattr(self, name)))
        for name, label in _POSITIVE.items():
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"{label} must be a positive integer, got {v!r}")
        if not self.seeds:
            raise ConfigError("give at least one seed")
        for s in self.seeds:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ConfigError(f"seeds must be integers >= 0, got {s!r}")
        object.__setattr__(self, "shots", tuple(parse_shots(k) for k in self.shots))
        device = str(self.device).lower()
        if device not in DEVICE_WORDS:
            raise ConfigError(choices_text("device", self.device, list(DEVICE_WORDS)))
        object.__setattr__(self, "device", DEVICE_WORDS[device])
        if self.device == "cuda" and self.check_device:
            resolve_device("cuda")  # the clear "no CUDA GPU here" error
        if self.layers is not None:
            object.__setattr__(self, "layers", _tuple(self.layers))
        for m in self.models:
            backbone_label(m, self.backbone, self.layers)  # unknown timm name or layer
            need = get_detector(m).min_image_size
            if self.image_size < need:
                raise InputError(f"{m} needs image_size >= {need}, got {self.image_size} "
                                 "(pass --image-size or another profile)")
        for t in self.train_sets:
            if t not in TRAIN_SETS:
                raise InputError(choices_text("train set", t, list(TRAIN_SETS)))

    def replace(self, **changes: Any) -> "DetectionConfig":
        """A copy with some fields changed (validated again, as a new config)."""
        return dataclasses.replace(self, **changes)

    def backbone_label(self, model: str) -> str:
        """The results table's ``backbone`` of ``model`` under this config."""
        return backbone_label(model, self.backbone, self.layers)

    def training_fields(self) -> dict[str, Any]:
        """What decides one detector's training besides (model, k, seed, train set, data):
        the fields a result's fingerprint must hold."""
        augment = dataclasses.asdict(self.augment) if self.augment else "class rules"
        return {"image_size": self.image_size, "augment": augment,
                "n_augment": self.n_augment, "epochs": self.epochs,
                "batch_size": self.batch_size, "backbone": self.backbone,
                "layers": None if self.layers is None else list(self.layers),
                "pretrained": self.pretrained}


__all__ = ["DetectionConfig", "DEVICE_WORDS"]
