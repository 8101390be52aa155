"""Pictures of the integrator: each round's candidates with their scores, score terms over rounds,
how (mu, sigma) drift from the real latents' (mu_0, sigma_0), and a widget to browse rounds.

Every function takes the :class:`tvig.integrator.rounds.RoundRecord` list that ``integrate`` returns
(``result.records``) and returns a matplotlib Figure (or an ipywidgets widget).

Example:
    >>> from tvig.plots.integration import round_gallery, score_terms_over_rounds  # doctest: +SKIP
    >>> round_gallery(result.records[0])                                          # doctest: +SKIP
    >>> score_terms_over_rounds(result.records)                                   # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from tvig.tutorial.widgets import show_in

KEPT_COLOUR, DROPPED_COLOUR = "#1a9850", "#999999"
TERMS = (("text", "text cosine  cos(E_img, E_txt(p*))"),
         ("img", "image cosine  cos(E_img, mean E_img(shots))"),
         ("latent", "latent distance D(z) (lower = more real)"),
         ("total", "combined score a*text + b*img - c*D"))


def _title(fig: Figure, text: str, banner: str | None) -> None:
    fig.suptitle(text + (f"\n{banner}" if banner else ""), fontsize=10,
                 color="black" if not banner else "#b00000")


def round_gallery(record, *, cols: int | None = None, size: float = 1.9,
                  banner: str | None = None) -> Figure:
    """One round's N candidates, each titled with its score terms; kept ones framed green
    with their rank ("kept #1" is the best)."""
    imgs = record.candidates  # (N, 3, H, W) uint8
    n = imgs.shape[0]
    cols = cols or min(n, 6)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * (size + 0.5)), squeeze=False)
    rank = {int(i): k + 1 for k, i in enumerate(record.order)}
    s = record.scores
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        ax.imshow(imgs[i].permute(1, 2, 0).numpy())
        kept = i in rank
        head = f"kept #{rank[i]}" if kept else "dropped"
        ax.set_title(f"#{i} {head}\nscore {float(s.total[i]):.3f}\n"
                     f"t {float(s.text[i]):.2f} i {float(s.img[i]):.2f} D {float(s.latent[i]):.2f}",
                     fontsize=7, color=KEPT_COLOUR if kept else "black")
        for sp in ax.spines.values():
            sp.set_color(KEPT_COLOUR if kept else DROPPED_COLOUR)
            sp.set_linewidth(4 if kept else 1)
    _title(fig, f"round {record.round}: {n} candidates, top {len(rank)} kept by the combined "
           "score (t = text cos, i = image cos, D = latent distance)", banner)
    fig.tight_layout()
    return fig


def score_terms_over_rounds(records: Sequence, *, banner: str | None = None) -> Figure:
    """Every candidate's score terms per round (grey = dropped, green = kept), kept mean as a line."""
    fig, axes = plt.subplots(1, len(TERMS), figsize=(4 * len(TERMS), 3.4))
    rounds = [rec.round for rec in records]
    for ax, (name, label) in zip(axes, TERMS):
        means = []
        for rec in records:
            v = getattr(rec.scores, name).numpy()
            k = rec.kept.numpy()
            jitter = np.linspace(-0.12, 0.12, len(v)) if len(v) > 1 else np.zeros(1)
            ax.scatter(rec.round + jitter[~k], v[~k], s=14, color=DROPPED_COLOUR)
            ax.scatter(rec.round + jitter[k], v[k], s=22, color=KEPT_COLOUR)
            means.append(v[k].mean())
        ax.plot(rounds, means, color=KEPT_COLOUR, lw=1.5, label="mean of kept")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("round")
        ax.set_xticks(rounds)
    axes[0].legend(fontsize=8)
    _title(fig, "score terms over rounds", banner)
    fig.tight_layout()
    return fig


def drift_table(records: Sequence, mu0: torch.Tensor, sigma0: torch.Tensor) -> list[dict[str, float]]:
    """Per round (0 = the real Gaussian): mean |mu - mu_0| / sigma_0 and mean sigma / sigma_0."""
    rows = [{"round": 0, "mean_shift": 0.0, "sigma_ratio": 1.0}]
    for rec in records:
        rows.append({"round": rec.round,
                     "mean_shift": float(((rec.mu - mu0).abs() / sigma0).mean()),
                     "sigma_ratio": float((rec.sigma / sigma0).mean())})
    return rows


def latent_drift(records: Sequence, mu0: torch.Tensor, sigma0: torch.Tensor, *,
                 banner: str | None = None) -> Figure:
    """How (mu, sigma) move away from (mu_0, sigma_0) round by round, and sigma's spread."""
    rows = drift_table(records, mu0.cpu(), sigma0.cpu())
    r = [row["round"] for row in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    axes[0].plot(r, [row["mean_shift"] for row in rows], marker="o")
    axes[0].set_title("mean |mu - mu_0| / sigma_0", fontsize=9)
    axes[1].plot(r, [row["sigma_ratio"] for row in rows], marker="o", color="tab:orange")
    axes[1].axhline(1.0, color="grey", lw=0.8, ls="--")
    axes[1].set_title("mean sigma / sigma_0 (1 = real spread)", fontsize=9)
    for ax in axes[:2]:
        ax.set_xlabel("round (0 = real latents)")
        ax.set_xticks(r)
    axes[2].hist(sigma0.cpu().flatten().numpy(), bins=40, alpha=0.6, label="sigma_0 (real)")
    if records:
        axes[2].hist(records[-1].sigma.flatten().numpy(), bins=40, alpha=0.6,
                     label=f"sigma after round {records[-1].round}")
    axes[2].set_title("sigma per latent position/channel", fontsize=9)
    axes[2].legend(fontsize=8)
    _title(fig, "drift of the latent distribution", banner)
    fig.tight_layout()
    return fig


def round_browser(records: Sequence, *, banner: str | None = None):
    """An ipywidgets slider over rounds that redraws :func:`round_gallery` (display it)."""
    import ipywidgets as widgets  # heavy: widgets only inside a notebook

    out = widgets.Output()
    slider = widgets.IntSlider(value=records[0].round, min=records[0].round,
                               max=records[-1].round, description="round")
    by_round = {rec.round: rec for rec in records}

    def show(change=None) -> None:
        show_in(out, round_gallery(by_round[slider.value], banner=banner))

    slider.observe(show, names="value")
    show()
    box = widgets.VBox([slider, out])
    box.update = show
    return box


def diversity_and_terms(records, weights: dict, *, banner: str | None = None) -> Figure:
    """Left: each round's diversity relative to the shots' augmentations (CLIP and pixels; 1 =
    as varied as augmenting the shots). Right: the spread of the weighted score terms a*text,
    b*image and c*D over all candidates (``weights``: the manifest's integrator a, b, c)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    rounds_ = [rec.round for rec in records]
    for key in ("clip_rel", "pixel_rel"):
        axes[0].plot(rounds_, [rec.diversity.get(key, float("nan")) for rec in records],
                     marker="o", label=key)
    axes[0].axhline(1.0, color="grey", lw=0.8, ls="--")
    axes[0].set_title("diversity / diversity of the shots' augmentations", fontsize=9)
    axes[0].set_xlabel("round")
    axes[0].legend(fontsize=8)
    terms = {name: torch.cat([weights[w] * getattr(rec.scores, f) for rec in records]).tolist()
             for name, w, f in (("a*text", "a", "text"), ("b*image", "b", "img"),
                                ("c*D", "c", "latent"))}
    axes[1].boxplot(list(terms.values()), tick_labels=list(terms))
    axes[1].set_title("spread of the score terms (all candidates)", fontsize=9)
    if banner:
        fig.suptitle(banner, fontsize=7, color="red")
    return fig
