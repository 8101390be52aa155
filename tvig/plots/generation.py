"""Figures of the variance-aware generator (notebook 02): what mu/sigma look like, how
variance turns into variety, how the loss terms evolve, and the sigma = 0 ablation.

Every function returns a matplotlib Figure. Pass ``note=RANDOM_WEIGHTS_BANNER``-like text
to stamp it on the figure (the tiny profile must say its pictures mean nothing).

Example:
    >>> from tvig.plots.generation import loss_curves
    >>> fig = loss_curves({"text": [1.0, 0.9], "image": [0.2, 0.1], "kl": [0, .1],
    ...                    "total": [1.2, 1.1]})
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from tvig.plots.common import image_grid


def _stamp(fig, note: str | None):
    if note:
        fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=7, color="crimson",
                 wrap=True)
    return fig


def reconstructions(shots: torch.Tensor, recon: torch.Tensor, *, note: str | None = None):
    """Shots (top row) and their VQGAN reconstructions decode(quantize(encode(x))) (bottom)."""
    k = shots.shape[0]
    fig = image_grid(torch.cat([shots, recon]), ncol=k, row_labels=["shots", "reconstruction"],
                     title="VQGAN reconstruction of the shots")
    return _stamp(fig, note)


def latent_heatmaps(dist, *, channels: Sequence[int] = (0, 1, 2), note: str | None = None,
                    component: int = 0):
    """Heat maps of mu_0 and sigma_0 of one mixture component (shot ``component``; (C, h, w)):
    channel mean, then a few single channels."""
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw

    mu, sigma = dist.mu, dist.sigma
    if mu.ndim == 4:  # (k, C, h, w) mixture: one component per shot
        mu, sigma = mu[component], sigma[component]  # (C, h, w)
    cols = [("mean over channels", mu.mean(0), sigma.mean(0))]
    cols += [(f"channel {c}", mu[c], sigma[c]) for c in channels if c < mu.shape[0]]
    fig, axes = plt.subplots(2, len(cols), figsize=(2.6 * len(cols), 5.2), squeeze=False)
    for j, (name, m, s) in enumerate(cols):
        for i, (label, v, cmap) in enumerate((("mu", m, "coolwarm"), ("sigma", s, "viridis"))):
            ax = axes[i, j]
            im = ax.imshow(v.detach().float().cpu().numpy(), cmap=cmap)
            ax.set_title(f"{label}: {name}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle("latent distribution per position (h x w)", fontsize=10)
    fig.tight_layout()
    return _stamp(fig, note)


def samples_at_scales(rows: Mapping[float, torch.Tensor], *, note: str | None = None):
    """``{scale: (n, 3, H, W)}`` -> one row per sigma scale (same eps in every row)."""
    scales = list(rows)
    n = rows[scales[0]].shape[0]
    fig = image_grid(torch.cat([rows[s] for s in scales]), ncol=n,
                     row_labels=[f"sigma x {s:g}" for s in scales],
                     title="samples z = mu + scale * sigma * eps")
    return _stamp(fig, note)


def loss_curves(history: Mapping[str, Sequence[float]], *, note: str | None = None):
    """One panel per loss term (text, image, kl, total) against the step."""
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw

    names = list(history)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(history[name], lw=1.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle("loss terms per optimisation step", fontsize=10)
    fig.tight_layout()
    return _stamp(fig, note)


def before_after(before: torch.Tensor, after: torch.Tensor, *, note: str | None = None):
    """Candidates sampled from N(mu_0, sigma_0^2) (top) and after optimisation (bottom)."""
    n = before.shape[0]
    fig = image_grid(torch.cat([before, after]), ncol=n,
                     row_labels=["before", "after"], title="candidates before / after CLIP guidance")
    return _stamp(fig, note)


def ablation_figure(metrics: Mapping[str, Mapping[str, float]],
                    images: Mapping[str, torch.Tensor] | None = None, *, note: str | None = None):
    """Bar charts of diversity and similarity per variant (+ optional image rows per variant)."""
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw

    names = list(metrics)
    n_img = max((v.shape[0] for v in (images or {}).values()), default=0)
    ncols = 2 + n_img
    fig = plt.figure(figsize=(2.2 * ncols + 1, 1.9 * len(names) + 0.6))
    gs = fig.add_gridspec(len(names), ncols)
    for j, key in enumerate(("diversity", "similarity")):
        ax = fig.add_subplot(gs[:, j])
        vals = [metrics[n][key] for n in names]
        ax.bar(range(len(names)), vals, color=["tab:gray", "tab:blue", "tab:green"][:len(names)])
        ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
        ax.set_title({"diversity": "diversity\n(mean pairwise 1 - cos)",
                      "similarity": "similarity\n(mean cos to shots)"}[key], fontsize=9)
        for x, v in enumerate(vals):
            ax.text(x, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    for i, name in enumerate(names):
        imgs = (images or {}).get(name)
        for k in range(0 if imgs is None else imgs.shape[0]):
            ax = fig.add_subplot(gs[i, 2 + k])
            ax.imshow(imgs[k].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.suptitle("ablation: sigma fixed at 0 vs variance-aware (same budget)", fontsize=10)
    fig.tight_layout()
    return _stamp(fig, note)
