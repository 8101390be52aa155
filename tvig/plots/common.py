"""Generic figure helpers: image grids and atomic figure saving.

Example:
    >>> import torch
    >>> fig = image_grid(torch.rand(6, 3, 32, 32), ncol=3, titles=list("abcdef"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from tvig import atomic


def image_grid(images: torch.Tensor, *, ncol: int | None = None,
               titles: Sequence[str] | None = None, row_labels: Sequence[str] | None = None,
               title: str | None = None, size: float = 1.8):
    """(N, 3, H, W) in [0, 1] -> a Figure with the images in rows of ``ncol``."""
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw

    n = images.shape[0]
    ncol = ncol or n
    nrow = max(1, -(-n // ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(size * ncol, size * nrow + (0.4 if title else 0)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for s in ax.spines.values():
            s.set_visible(False)
        if k < n:
            ax.imshow(images[k].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
            if titles is not None and k < len(titles):
                ax.set_title(titles[k], fontsize=8)
    if row_labels is not None:
        for r, lab in enumerate(row_labels[:nrow]):
            axes[r, 0].set_ylabel(lab, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def save_figure(fig, path: "str | Path", dpi: int = 120) -> Path:
    """Save a Figure as PNG atomically (no half-written file on interruption)."""

    with atomic.atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)


def show_figure(fig, path: "str | Path | None" = None) -> None:
    """In a notebook: save ``fig`` as PNG at ``path`` (atomically, if given), display it, close it."""
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw

    if path is not None:
        save_figure(fig, path)
    plt.show()
    plt.close(fig)
