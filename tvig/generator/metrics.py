"""Two numbers that describe a generated set (the paper's Fig. 2 axes), from CLIP embeddings.

- :func:`diversity`: mean pairwise cosine distance ``1 - cos`` between the generated images
  (0 = all the same picture; visual variance).
- :func:`similarity`: mean cosine between generated images and the real shots
  (1 = the same as the shots; "still the same object").
- :func:`pixel_diversity`: mean pairwise mean-absolute pixel difference (0 = identical);
  :func:`round_diversity` gives both diversities of a batch, relative to a reference (the
  shots' status-consistent augmentations: 1 = "as varied as augmenting the shots").

Example:
    >>> import torch
    >>> e = torch.nn.functional.normalize(torch.randn(4, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    >>> round(diversity(e[:1].repeat(3, 1)), 6)   # three copies of one picture
    0.0
    >>> round(similarity(e[:2], e[:2].flip(0)[:1].repeat(1, 1)), 3) <= 1.0
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tvig.models.clip import embed_images


def diversity(emb: torch.Tensor) -> float:
    """Mean over pairs i < j of ``1 - cos(e_i, e_j)`` for (n, D) embeddings; 0 when n < 2."""
    e = F.normalize(emb.detach().float(), dim=-1)
    n = e.shape[0]
    if n < 2:
        return 0.0
    cos = e @ e.T  # (n, n)
    iu = torch.triu_indices(n, n, offset=1)
    return float((1 - cos[iu[0], iu[1]]).mean().clamp_min(0))


def similarity(emb: torch.Tensor, shot_emb: torch.Tensor) -> float:
    """Mean cosine between (n, D) generated and (k, D) shot embeddings (all n x k pairs)."""
    e = F.normalize(emb.detach().float(), dim=-1)
    s = F.normalize(shot_emb.detach().float().to(e.device), dim=-1)
    return float((e @ s.T).mean())


def pixel_diversity(images: torch.Tensor) -> float:
    """Mean over pairs i < j of mean |x_i - x_j| for (n, 3, H, W) images in [0, 1]; 0 if n < 2."""
    x = images.detach().float().flatten(1).cpu()
    n = x.shape[0]
    if n < 2:
        return 0.0
    d = torch.cdist(x[None], x[None], p=1)[0] / x.shape[1]  # (n, n)
    iu = torch.triu_indices(n, n, offset=1)
    return float(d[iu[0], iu[1]].mean())


def round_diversity(clip, images: torch.Tensor, reference: "dict[str, float] | None" = None,
                    *, emb: "torch.Tensor | None" = None) -> dict[str, float]:
    """``{"clip", "pixel"}`` diversities of (n, 3, H, W) images in [0, 1] and, with a
    ``reference`` (the same dict for the shots' augmentations), ``clip_rel`` / ``pixel_rel``.

    >>> round_diversity(None, torch.zeros(3, 3, 4, 4), emb=torch.eye(3))["pixel"]
    0.0
    """
    emb = embed_images(clip, images) if emb is None else emb
    out = {"clip": diversity(emb), "pixel": pixel_diversity(images)}
    if reference:
        for key in ("clip", "pixel"):
            ref = reference.get(key, 0.0)
            out[f"{key}_rel"] = out[key] / ref if ref > 0 else float("nan")
    return out


@torch.no_grad()
def set_metrics(clip, images: torch.Tensor, shot_emb: torch.Tensor,
                batch_size: int = 32) -> dict[str, float]:
    """``{"diversity", "similarity"}`` of (n, 3, H, W) images, encoded with ``clip`` in batches."""
    emb = embed_images(clip, images, batch_size=batch_size)
    return {"diversity": diversity(emb), "similarity": similarity(emb, shot_emb)}
