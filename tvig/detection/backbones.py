"""The user's own timm backbone for PatchCore, PaDiM and CFlow: layers, checks and the cache.

Any timm model with ``features_only`` works. Without ``--layers`` the layers are chosen by
**stride**, so one rule fits every family: a model's default layers name ResNet stages
(``layer1`` = stride 4, ``layer2`` = 8, ``layer3`` = 16, ``layer4`` = 32) and the user's
backbone gets its feature stages with the same strides (EfficientNet-Lite0 for PatchCore's
``layer2 layer3``: ``blocks.2 blocks.4``). A model whose stages share one stride (a ViT) gets
the stages at the same relative depth. Names and layers are checked on a ``pretrained=False``
model before any training; weights come only from the local Hugging Face / torch hub caches.

Example:
    >>> choose_layers([("act1", 2), ("layer1", 4), ("layer2", 8), ("layer3", 16)], (8, 16))
    ('layer2', 'layer3')
    >>> choose_layers([(f"blocks.{i}", 14) for i in range(12)], (8, 16))
    ('blocks.6', 'blocks.8')
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from tvig.errors import InputError

# the stride of each ResNet stage that anomalib's default layer names refer to
RESNET_STRIDES = {"act1": 2, "layer1": 4, "layer2": 8, "layer3": 16, "layer4": 32}
# PaDiM keeps 100 of resnet18's 448 channels (layers 1-3, anomalib's paper default): the same
# fraction of the channels of any other backbone or layer choice
PADIM_KEEP = 100 / 448
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_model.safetensors",
                "open_clip_pytorch_model.bin")


@dataclass(frozen=True)
class Backbone:
    """A checked backbone: timm name, chosen layers and their channel counts."""

    name: str
    layers: tuple[str, ...]
    channels: tuple[int, ...]

    @property
    def label(self) -> str:
        """``resnet34:layer2+layer3`` (the ``backbone`` column of the results table)."""
        return f"{self.name}:{'+'.join(self.layers)}"


@functools.lru_cache(maxsize=32)
def feature_stages(name: str) -> tuple[tuple[str, int, int], ...]:
    """(module, stride, channels) of every ``features_only`` stage of timm model ``name``."""
    import timm  # heavy: timm builds the (random, pretrained=False) model to read its stages

    if not timm.is_model(name):
        near = timm.list_models(f"*{name.split('.')[0][:6]}*")[:8]
        raise InputError(f"unknown timm backbone {name!r}" + (
            f"; similar names: {', '.join(near)}" if near else "") + " (timm.list_models())")
    try:  # the probe must not move the global RNG: a detector's init would then depend on
        with torch.random.fork_rng(devices=[]):  # whether this process probed before
            model = timm.create_model(name, pretrained=False, features_only=True)
    except Exception as e:  # timm says why (no features_only support, ...)
        raise InputError(f"timm backbone {name!r} cannot give feature maps "
                         f"(features_only): {e}") from None
    return tuple((i["module"], int(i["reduction"]), int(i["num_chs"]))
                 for i in model.feature_info.info)


def choose_layers(stages: Sequence[tuple[str, int]], strides: Sequence[int]) -> tuple[str, ...]:
    """The stage with each wanted stride; for repeated strides, the same relative depth."""
    names, all_strides = [m for m, _ in stages], [s for _, s in stages]
    if len(set(all_strides)) == len(all_strides) and set(strides) <= set(all_strides):
        return tuple(names[all_strides.index(s)] for s in strides)
    n = len(stages)  # ResNet stride 2**(i+1) is stage i of 5, at relative depth i / 4
    return tuple(names[round((math.log2(s) - 1) / 4 * (n - 1))] for s in strides)


def resolve_backbone(name: str, layers: Sequence[str] | None, default_layers: Sequence[str],
                     ) -> Backbone:
    """Check ``name`` and ``layers`` (one line listing the valid layers when one is wrong)."""
    stages = feature_stages(name)
    valid = [m for m, _, _ in stages]
    if layers is None:
        layers = tuple(default_layers) if set(default_layers) <= set(valid) else choose_layers(
            [(m, s) for m, s, _ in stages], [RESNET_STRIDES[x] for x in default_layers])
    layers = tuple(layers)
    bad = [x for x in layers if x not in valid]
    if bad or not layers:
        raise InputError(f"backbone {name} has no layer {', '.join(map(repr, bad)) or '(none)'}; "
                         f"valid layers: {' '.join(valid)}")
    chs = {m: c for m, _, c in stages}
    return Backbone(name, layers, tuple(chs[x] for x in layers))


def padim_features(backbone: Backbone) -> int | None:
    """PaDiM's kept feature count: anomalib's own default where it has one, else the same
    fraction (100 of 448) of the chosen layers' channels."""
    if backbone.layers == ("layer1", "layer2", "layer3") and backbone.name in (
            "resnet18", "wide_resnet50_2"):
        return None  # anomalib's paper defaults (100, 550)
    return max(1, round(sum(backbone.channels) * PADIM_KEEP))


def hf_hub_cache() -> Path:
    from huggingface_hub import constants  # heavy: only the cache look-up needs it

    return Path(constants.HF_HUB_CACHE)


def cached_hf_file(repo: str, filenames: Sequence[str]) -> bool:
    """True when one of ``filenames`` of the Hub ``repo`` is in the local cache (no network)."""
    # heavy: only the cache look-up needs it
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(repo, f, cache_dir=hf_hub_cache()), str)
               for f in filenames if f)


def backbone_weights_cached(backbone: str) -> bool:
    """True when timm would find ``backbone``'s pretrained weights offline.

    timm prefers the Hugging Face Hub whenever a model has a Hub id (the torch hub file is
    read only with ``TIMM_USE_OLD_CACHE``), so that is where this looks first.
    """
    # heavy: timm's pretrained registry (and its TIMM_USE_OLD_CACHE flag)
    from timm.models import _builder, get_pretrained_cfg

    cfg = get_pretrained_cfg(backbone)
    if cfg is None:
        return False
    if cfg.hf_hub_id and cached_hf_file(cfg.hf_hub_id.split("@")[0],
                                        (cfg.hf_hub_filename,) + WEIGHT_FILES[:2]):
        return True
    if cfg.url and (not cfg.hf_hub_id or _builder._USE_OLD_CACHE):
        return (Path(torch.hub.get_dir()) / "checkpoints" / cfg.url.rsplit("/", 1)[-1]).is_file()
    return False


def cached_backbones() -> list[str]:
    """Hub repos (``timm/NAME``) whose weights are in the local cache: usable ``--backbone``s."""
    out = []
    for d in sorted(hf_hub_cache().glob("models--timm--*")):
        if any(f.name in WEIGHT_FILES for f in d.glob("snapshots/*/*")):
            out.append(d.name.removeprefix("models--timm--"))
    return out
