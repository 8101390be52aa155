"""The gate photos: CC0 images bundled with scikit-image, with a name and ImageNet classes.

Each :class:`Photo` has the ``skimage.data`` function that loads it, the name CLIP should
pick for it ("a photo of {name}") and, where ImageNet has one, the class indices a classifier
should put in its top-5 (torchvision/timm ImageNet-1k order).

>>> x = load_photos(32)
>>> x.shape, float(x.min()) >= 0.0, float(x.max()) <= 1.0
(torch.Size([13, 3, 32, 32]), True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Photo:
    key: str  # skimage.data function
    name: str  # CLIP's label: "a photo of {name}"
    imagenet: tuple[int, ...] = ()  # ImageNet-1k classes expected in the top-5 (none: skipped)


PHOTOS: tuple[Photo, ...] = (
    Photo("astronaut", "an astronaut"),
    Photo("chelsea", "a cat", (281, 282, 283, 284, 285)),  # tabby, tiger, Persian, Siamese, Egyptian
    Photo("coffee", "a cup of coffee", (504, 967, 968)),  # coffee mug, espresso, cup
    Photo("rocket", "a rocket", (657, 744, 812)),  # missile, projectile, space shuttle
    Photo("brick", "a brick wall"),
    Photo("grass", "grass"),
    Photo("gravel", "gravel"),
    Photo("moon", "the surface of the moon"),
    Photo("page", "a page of text"),
    Photo("camera", "a man with a camera", (732, 759, 872)),  # Polaroid, reflex camera, tripod
    Photo("clock", "a clock", (409, 892)),  # analog clock, wall clock
    Photo("coins", "old coins"),
    Photo("hubble_deep_field", "galaxies in deep space"),
)
TEMPLATE = "a photo of {}"


def _square(a: np.ndarray) -> np.ndarray:
    """Centre crop to a square (H, W[, C])."""
    h, w = a.shape[:2]
    s = min(h, w)
    return a[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]


def load_photo(key: str, size: int) -> torch.Tensor:
    """One photo as (3, size, size) float in [0, 1] (grey photos repeated over 3 channels)."""
    import skimage.data  # heavy: scikit-image loads its data registry; only the gates need it

    a = _square(np.asarray(getattr(skimage.data, key)()))
    a = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0)
    x = torch.from_numpy(np.ascontiguousarray(a))
    x = x.unsqueeze(0).expand(3, -1, -1) if x.ndim == 2 else x[..., :3].permute(2, 0, 1)
    x = F.interpolate(x[None], size=(size, size), mode="bilinear", antialias=True,
                      align_corners=False)[0]
    return x.clamp(0, 1)


def load_photos(size: int, photos: tuple[Photo, ...] = PHOTOS) -> torch.Tensor:
    """All gate photos as (N, 3, size, size) float in [0, 1], in the order of ``photos``."""
    return torch.stack([load_photo(p.key, size) for p in photos])
