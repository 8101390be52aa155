"""Generic figure helpers shared by the topic plot modules.

Example:
    >>> import torch
    >>> fig = image_grid(torch.rand(3, 3, 32, 32), titles=["a", "b", "c"])
    >>> len(fig.axes)
    3
"""

from __future__ import annotations

import math
from typing import Sequence

import torch


def image_grid(x: torch.Tensor, titles: Sequence[str] | None = None, ncols: int | None = None,
               size: float = 2.2, suptitle: str | None = None):
    """(B, 3, H, W) in [0, 1] -> a Figure with one image per axis (no ticks)."""
    import matplotlib.pyplot as plt

    b = x.shape[0]
    ncols = ncols or min(b, 6)
    nrows = math.ceil(b / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * bool(suptitle)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= b:
            fig.delaxes(ax)
            continue
        ax.imshow(x[i].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig
