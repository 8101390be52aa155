"""What one experiment is: a dataset's classes x shots x seeds, its detection config and the
generation profile. Built from flags or a YAML file, validated once.

Example:
    >>> from tvig.experiment.spec import ExperimentSpec
    >>> s = ExperimentSpec.from_mapping({"categories": ["brick"], "shots": [1], "seeds": [0, 1],
    ...                                  "profile": "tiny", "overrides": {"steps": 2}})
    >>> s.runs(), s.profile.steps, s.detection.image_size
    ([('brick', 1, 0), ('brick', 1, 1)], 2, 64)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from tvig import atomic
from tvig.detection.config import DEVICE_WORDS, DetectionConfig
from tvig.detection.datasets import get_dataset
from tvig.errors import ConfigError, InputError, choices_text
from tvig.profiles import Profile, get_profile

_DETECTION_KEYS = {f.name for f in dataclasses.fields(DetectionConfig)}
_KEYS = {"dataset", "data", "categories", "profile", "overrides", "n_images", "prompt",
         "gen_device", *_DETECTION_KEYS}


@dataclass(frozen=True)
class ExperimentSpec:
    """The grid of runs (dataset, class, k, seed) and how each unit of a run is made."""

    categories: tuple[str, ...]
    detection: DetectionConfig
    profile: Profile  # generation (with its overrides applied)
    dataset: str = "sample"
    data_root: str | None = None  # None: the embedded sample classes under OUT/sample_data
    overrides: Mapping[str, Any] = field(default_factory=dict)  # recorded in the rows
    n_images: int | None = None  # generated images per run; None = the profile's n_images
    prompt: str | None = None  # a fixed prompt; None = WordNet + CLIP selection per run
    gen_device: str = "auto"  # where generation runs: auto, cpu, cuda

    def __post_init__(self) -> None:
        cats = self.categories
        object.__setattr__(self, "categories", (cats,) if isinstance(cats, str) else tuple(cats))
        if not self.categories:
            raise ConfigError("give at least one category (class)")
        spec = get_dataset(self.dataset)
        for c in self.categories:
            if spec.categories and c not in spec.categories:
                raise InputError(choices_text(f"{self.dataset} class", c, list(spec.categories)))
        if spec.source != "sample" and self.data_root is None:
            raise InputError(f"dataset {self.dataset!r} needs a data root (--data ROOT); "
                             f"{spec.how_to_get}")
        n = self.n_images
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ConfigError(f"n_images must be a positive integer, got {n!r}")
        if str(self.gen_device) not in DEVICE_WORDS:
            raise ConfigError(choices_text("device", self.gen_device, list(DEVICE_WORDS)))
        object.__setattr__(self, "gen_device", DEVICE_WORDS[str(self.gen_device)])

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> "ExperimentSpec":
        """Build from a YAML mapping / CLI dict (keys: dataset, data, categories, shots, seeds,
        models, train_sets, profile, overrides, image_size, n_images, prompt, device, ...)."""
        unknown = sorted(set(d) - _KEYS)
        if unknown:
            raise ConfigError(f"unknown experiment setting(s) {', '.join(unknown)}; valid: "
                              f"{', '.join(sorted(_KEYS))}")
        profile = get_profile(d.get("profile", "fast"), **dict(d.get("overrides") or {}))
        det = {k: v for k, v in d.items() if k in _DETECTION_KEYS and v is not None}
        det.setdefault("image_size", profile.detect_image_size)
        det.setdefault("check_device", False)  # workers have the GPUs, maybe not the driver
        return cls(categories=d.get("categories") or (), detection=DetectionConfig(**det),
                   profile=profile, dataset=d.get("dataset", "sample"),
                   data_root=None if d.get("data") in (None, "sample") else str(d["data"]),
                   overrides=dict(d.get("overrides") or {}), n_images=d.get("n_images"),
                   prompt=d.get("prompt"), gen_device=d.get("gen_device", "auto"))

    @classmethod
    def from_yaml(cls, path: "str | Path", **flags: Any) -> "ExperimentSpec":
        """A YAML file's settings; ``flags`` given (not None) win over the file's."""
        d = atomic.read_yaml_mapping(path, "experiment file")
        return cls.from_mapping({**d, **{k: v for k, v in flags.items() if v is not None}})

    @property
    def n(self) -> int:
        return self.n_images or self.profile.n_images

    @property
    def needs_generation(self) -> bool:
        return "generated" in self.detection.train_sets

    def runs(self) -> list[tuple[str, "int | str", int]]:
        """Every (category, k, seed); k='all' uses only the first seed (one draw)."""
        d = self.detection
        return [(c, k, s) for c in self.categories for k in d.shots
                for s in (d.seeds[:1] if k == "all" else d.seeds)]


__all__ = ["ExperimentSpec"]
