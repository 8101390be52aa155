"""CLIP guidance helpers: cutouts and the spherical distance loss (VQGAN-CLIP style).

CLIP sees ``cutouts`` random crops of every candidate per step (sizes drawn with the
``cut_pow`` law, resized to CLIP's input, then lightly augmented with kornia). All cutouts of
all candidates form one batch, so a step costs one CLIP forward.

Example:
    >>> import torch
    >>> cut = Cutouts(size=64, cutouts=4, cut_pow=1.0, strength=1.0)
    >>> cut(torch.rand(2, 3, 128, 128)).shape            # (cutouts * B, 3, size, size)
    torch.Size([8, 3, 64, 64])
    >>> a = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    >>> spherical_distance(a, a).abs().max() < 1e-6
    tensor(True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def spherical_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """2 * arcsin(|a - b| / 2)^2 for unit vectors (..., D), broadcast -> (...).

    Equals theta^2 / 2 for the angle theta between a and b: 0 when equal, pi^2/2 when opposite.
    """
    d = (a - b).norm(dim=-1).div(2).clamp(max=1.0)
    return d.arcsin().pow(2).mul(2)


class Cutouts(nn.Module):
    """Random square crops + kornia augmentations, (B, 3, H, W) -> (cutouts * B, 3, S, S).

    Row ``c * B + b`` is cutout ``c`` of image ``b`` (reshape to (cutouts, B, ...)). Crop sizes
    are ``rand ** cut_pow * (side - min) + min`` with ``min = min(side, size)``; a larger
    ``cut_pow`` favours small crops (details), 1 is uniform. ``strength`` scales the
    augmentations (flip, affine, perspective, colour jitter, noise); 0 turns them off.
    Randomness comes from torch's global RNG: run under :func:`tvig.seeding.seeded`.
    """

    def __init__(self, size: int, cutouts: int, cut_pow: float = 1.0,
                 strength: float = 1.0) -> None:
        super().__init__()
        self.size, self.cutouts, self.cut_pow, self.strength = size, cutouts, cut_pow, strength
        self.augment = _augmentations(strength) if strength > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        side = min(x.shape[-2:])
        lo = min(side, self.size)
        sizes = (torch.rand(self.cutouts) ** self.cut_pow * (side - lo) + lo).long().tolist()
        frac = torch.rand(self.cutouts, 2).tolist()
        crops = []
        for s, (fy, fx) in zip(sizes, frac):
            oy, ox = int(fy * (x.shape[-2] - s + 1)), int(fx * (x.shape[-1] - s + 1))
            crop = x[:, :, oy:oy + s, ox:ox + s]  # (B, 3, s, s)
            crops.append(F.interpolate(crop, size=(self.size, self.size), mode="bilinear",
                                       align_corners=False, antialias=s > self.size))
        out = torch.cat(crops)  # (cutouts * B, 3, S, S)
        if self.augment is not None:
            out = self.augment(out)
            noise = torch.rand(out.shape[0], 1, 1, 1, device=out.device) * 0.1 * self.strength
            out = out + noise * torch.randn_like(out)
        return out


def _augmentations(strength: float) -> nn.Module:
    import kornia.augmentation as K  # heavy: kornia takes ~1 s to import; only augmentation needs it

    s = float(strength)
    return nn.Sequential(
        K.RandomHorizontalFlip(p=0.5),
        K.RandomAffine(degrees=15 * s, translate=(0.1 * s, 0.1 * s), p=0.7,
                       padding_mode="border"),
        K.RandomPerspective(min(0.7 * s, 1.0), p=0.7),
        K.ColorJitter(hue=min(0.1 * s, 0.5), saturation=0.1 * s, p=0.7),
    )


def text_term(cut_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """Mean spherical distance of cutout embeddings (cutouts, B, D) to prompts (T, D) -> (B,)."""
    return spherical_distance(cut_emb[:, :, None], text_emb[None, None]).mean(dim=(0, 2))


def image_term(img_emb: torch.Tensor, shot_center: torch.Tensor) -> torch.Tensor:
    """Spherical distance of whole-image embeddings (B, D) to the shots' centre (D,) -> (B,)."""
    return spherical_distance(img_emb, shot_center[None])


def shot_center(shot_emb: torch.Tensor) -> torch.Tensor:
    """(k, D) unit embeddings of the shots -> (D,) their normalised mean."""
    return F.normalize(shot_emb.mean(0), dim=-1)
