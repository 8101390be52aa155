"""Detector backbones (timm, ImageNet weights) from the local Hugging Face cache only.

anomalib builds its feature extractors with timm; offline, a backbone's weights are usable
only if they are already in the Hugging Face cache. A backbone that is not cached is a
skipped gate with a note, never a download.

>>> cached_weights("no_such_model_xyz") is None
True
"""

from __future__ import annotations

from pathlib import Path

import torch

from tvig.gates.checks import BACKBONE_MIN_FRACTION, GateResult, backbone_gate
from tvig.gates.photos import load_photos

BACKBONES = ("resnet18", "wide_resnet50_2")  # PatchCore-R18 (tvig's default) and anomalib's
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def cached_weights(name: str) -> Path | None:
    """The cached weights file of timm's default pretrained tag for ``name``, or None."""
    import timm  # heavy: timm imports its whole model zoo; only the backbone gate needs it

    # heavy: the hub client reads the local cache only here (try_to_load_from_cache)
    from huggingface_hub import try_to_load_from_cache

    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except Exception:  # noqa: BLE001  (unknown to timm)
        return None
    hub = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not hub:
        return None
    for fname in ("model.safetensors", "pytorch_model.bin"):
        p = try_to_load_from_cache(hub, fname)
        if isinstance(p, str):
            return Path(p)
    return None


def backbone_gates(*, device: "str | torch.device" = "cpu", names: tuple[str, ...] = BACKBONES,
                   size: int = 224) -> list[GateResult]:
    """One gate per cached backbone (photos at ``size``); one skipped row when none is cached."""
    import timm  # heavy: timm imports its whole model zoo; only the backbone gate needs it

    out = []
    cached = [(n, p) for n in names if (p := cached_weights(n)) is not None]
    photos = load_photos(size) if cached else None  # (N, 3, size, size)
    for name, path in cached:
        net = timm.create_model(name, pretrained=True,
                                pretrained_cfg_overlay={"file": str(path)}).eval().to(device)
        mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
        out.append(backbone_gate(lambda x: net((x.to(device) - mean) / std), photos,
                                 model=name, file=path.name))
    if not out:
        out.append(GateResult("backbones", "-", "ImageNet top-5 hit rate", float("nan"),
                              BACKBONE_MIN_FRACTION,
                              False, 0.0, note=f"skipped: no cached timm weights for "
                              f"{', '.join(names)} (anomalib downloads them on first use)",
                              skipped=True))
    return out
