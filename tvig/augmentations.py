"""Status-consistent augmentations per class: the one augmentation builder of tvig.

A transform may be used only if a good part stays a good part under it (DESIGN.md §2): a
mirrored MVTec AD ``metal_nut`` *is* a defect (``flip``), a mirrored screw has a left-hand
thread, a rearranged LOCO box is a logical anomaly. The rules are data
(``configs/augmentations.yaml``: an entry for every MVTec AD, BTAD and MVTec LOCO class and a
conservative default for unknown ones); :func:`rules_for` looks a class up (a user file
overrides entries field by field) and :class:`Augmenter` applies the rules. Both the generator
(sigma_0 of each shot, :func:`tvig.generator.distribution.latent_stats`) and the
classical-augmentation control of notebook 04 (:mod:`tvig.detection.training_sets`) use it.

Example:
    >>> r = rules_for("metal_nut")
    >>> r.hflip, r.vflip, r.rot90, r.source
    (False, False, True, 'mvtec_ad')
    >>> rules_for("my_odd_part").source
    'default'
    >>> import torch
    >>> augment(torch.rand(2, 3, 32, 32), r, seed=0).shape
    torch.Size([2, 3, 32, 32])
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from tvig.errors import ConfigError
from tvig.paths import PACKAGE_DATA
from tvig.seeding import seeded

RULES_FILE = PACKAGE_DATA / "augmentations.yaml"
_FIELDS = ("hflip", "vflip", "rot90", "degrees", "shift", "jitter", "why")


@dataclass(frozen=True)
class AugmentRules:
    """What one class allows. Built by :func:`rules_for`; validated here."""

    category: str
    dataset: str  # the table it came from, or "default"
    hflip: bool
    vflip: bool
    rot90: bool
    degrees: float  # max free rotation; 0 = none
    shift: float  # max translation, fraction of the side
    jitter: float  # brightness / contrast / saturation jitter
    why: str = ""
    source: str = ""  # "<dataset>", "default", or "<dataset>+override"

    def __post_init__(self) -> None:
        for name in ("hflip", "vflip", "rot90"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"augmentation rule {name} of {self.category!r} must be true "
                                  f"or false, got {getattr(self, name)!r}")
        for name, hi in (("degrees", 180.0), ("shift", 0.5), ("jitter", 1.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= hi:
                raise ConfigError(f"augmentation rule {name} of {self.category!r} must be a "
                                  f"number in [0, {hi:g}], got {v!r}")

    @property
    def mirrors(self) -> bool:
        return self.hflip or self.vflip

    @property
    def padding(self) -> str:
        """Reflection padding makes mirrored content: only where mirrors are allowed."""
        return "reflection" if self.mirrors else "border"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """One line: what is allowed, and why."""
        flips = "+".join(n for n, on in (("h", self.hflip), ("v", self.vflip)) if on) or "no"
        return (f"{self.category} ({self.source}): flips {flips}; 90-degree rotations "
                f"{'yes' if self.rot90 else 'no'}; free rotation up to {self.degrees:g} deg; "
                f"shift {self.shift:g}; colour jitter {self.jitter:g} -- {self.why}")


def _read(path: "str | os.PathLike[str]") -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"augmentation rules file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"augmentation rules file {p} is not valid YAML ({e}); fix it") from None
    if not isinstance(data, dict) or not isinstance(data.get("datasets", {}), dict):
        raise ConfigError(f"augmentation rules file {p} must hold a mapping with 'default' "
                          "and 'datasets' (see tvig/configs/augmentations.yaml)")
    for entry in [data.get("default", {})] + [e for t in data.get("datasets", {}).values()
                                               for e in (t or {}).values()]:
        bad = sorted(set(entry or {}) - set(_FIELDS))
        if bad:
            raise ConfigError(f"augmentation rules file {p}: unknown field(s) {', '.join(bad)}; "
                              f"valid: {', '.join(_FIELDS)}")
    return data


def load_rules(path: "str | os.PathLike[str] | None" = None) -> dict[str, Any]:
    """The packaged table, with the entries of the user file ``path`` laid over it."""
    base = _read(RULES_FILE)
    if path is None:
        return base
    user = _read(path)
    base["default"] = {**base.get("default", {}), **(user.get("default") or {})}
    for ds, table in (user.get("datasets") or {}).items():
        mine = base["datasets"].setdefault(ds, {})
        for cat, entry in (table or {}).items():
            mine[str(cat)] = {**mine.get(str(cat), {}), **(entry or {}), "_override": True}
    return base


def rules_for(category: str, dataset: str | None = None, *,
              path: "str | os.PathLike[str] | None" = None) -> AugmentRules:
    """The rules of ``category`` (``dataset=None``: the first table that has it; a dataset or
    class no table has: the conservative default). ``path``: a user file that overrides entries.
    """
    data = load_rules(path)
    tables = data.get("datasets", {})
    default = dict(data.get("default", {}))
    for ds in ([dataset] if dataset else list(tables)):
        if ds not in tables:
            break
        entry = (tables[ds] or {}).get(str(category))
        if entry is not None:
            entry = dict(entry)
            over = entry.pop("_override", False)
            return AugmentRules(str(category), ds, **{**default, **entry},
                                source=f"{ds}+override" if over else ds)
    return AugmentRules(str(category), "default", **default, source="default")


class Augmenter(nn.Module):
    """(B, 3, S, S) in [0, 1] -> one random status-consistent augmentation per image.

    Randomness comes from torch's global RNG: run under :func:`tvig.seeding.seeded`.
    """

    def __init__(self, rules: AugmentRules) -> None:
        super().__init__()
        import kornia.augmentation as K  # heavy: kornia takes ~1 s to import; only augmentation needs it

        ops: list[nn.Module] = []
        if rules.hflip:
            ops.append(K.RandomHorizontalFlip(p=0.5))
        if rules.vflip:
            ops.append(K.RandomVerticalFlip(p=0.5))
        if rules.rot90:
            ops.append(K.RandomRotation90(times=(0, 3), p=1.0))
        if rules.degrees > 0 or rules.shift > 0:
            ops.append(K.RandomAffine(degrees=float(rules.degrees),
                                      translate=(rules.shift, rules.shift),
                                      padding_mode=rules.padding, p=1.0))
        if rules.jitter > 0:
            ops.append(K.ColorJitter(brightness=rules.jitter, contrast=rules.jitter,
                                     saturation=rules.jitter, p=1.0))
        self.rules = rules
        self.ops = nn.Sequential(*ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops(x).clamp(0, 1) if len(self.ops) else x.clone()


@torch.no_grad()
def augment(x: torch.Tensor, rules: AugmentRules, *, seed: int) -> torch.Tensor:
    """One seeded augmentation of every image of x (B, 3, S, S) -> (B, 3, S, S)."""
    with seeded(seed):
        return Augmenter(rules)(x)
