"""Figures of the keyword-to-prompt generator: CLIP ranking bars, WordNet relation graph.

Example:
    >>> fig = plot_ranking(selection.ranking, top=15, comparison=selection.comparison)  # doctest: +SKIP
    >>> fig = plot_relations(selection.expansion)                                         # doctest: +SKIP
"""

from __future__ import annotations

import math
import textwrap
from typing import Sequence

RELATION_COLOURS = {"keyword": "#4c72b0", "synonym": "#55a868", "hypernym": "#c44e52",
                    "hyponym": "#8172b2", "attribute": "#ccb974", "gloss": "#64b5cd",
                    "baseline": "#7f7f7f", "caption": "#dd8452"}
RANDOM_NOTE = "RANDOM WEIGHTS (tiny profile): scores mean nothing"


def plot_ranking(rows: Sequence, top: int = 15, comparison: Sequence = (), title: str = "",
                 random_weights: bool = False):
    """Horizontal bars of s(P) for the ``top`` best prompts (coloured by relation), then the
    comparison prompts (hatched). The best prompt p* is at the top, in bold."""
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw
    from matplotlib.patches import Patch

    shown = list(rows)[:top] + list(comparison)
    n_top = min(top, len(rows))
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(shown) + 1.4))
    y = list(range(len(shown)))[::-1]
    for yi, (i, r) in zip(y, enumerate(shown)):
        ax.barh(yi, r.score, color=RELATION_COLOURS.get(r.relation, "#999999"),
                hatch="//" if i >= n_top else None, edgecolor="white")
    ax.set_yticks(y)
    labels = [textwrap.shorten(r.prompt, 60) for r in shown]
    ax.set_yticklabels(labels, fontsize=8)
    if shown:
        ax.get_yticklabels()[0].set_fontweight("bold")
    if comparison and n_top:
        ax.axhline(y[n_top - 1] - 0.5, color="black", lw=0.8, ls=":")
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("s(P) = cos(E_txt(P), mean_k E_img(x_k))")
    used = dict.fromkeys(r.relation for r in shown)
    ax.legend(handles=[Patch(color=RELATION_COLOURS.get(k, "#999999"), label=k) for k in used],
              fontsize=7, loc="lower right")
    ax.set_title((title or "CLIP ranking of candidate prompts") +
                 (f"\n{RANDOM_NOTE}" if random_weights else ""), fontsize=10)
    fig.tight_layout()
    return fig


def plot_relations(expansion, max_per_relation: int = 6, random_weights: bool = False):
    """Left: the keyword's sense in the centre, related words around it by relation. Right: every
    noun sense WordNet has for the looked-up word, with its score and why (sense choice)."""
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw

    fig, (ax, tx) = plt.subplots(1, 2, figsize=(13, 6), gridspec_kw=dict(width_ratios=[1.25, 1]))
    ax.set_axis_off()
    tx.set_axis_off()
    centre = f"{expansion.keyword}\n({', '.join(expansion.chosen) or 'not in WordNet'})"
    ax.text(0, 0, centre, ha="center", va="center", fontsize=10, fontweight="bold",
            bbox=dict(boxstyle="round", fc="#eeeeee"))
    groups = [(rel, ws[:max_per_relation]) for rel, ws in expansion.by_relation().items() if ws]
    for g, (rel, ws) in enumerate(groups):
        base = 2 * math.pi * g / max(1, len(groups))
        for j, w in enumerate(ws):
            sector = 0.8 * 2 * math.pi / max(1, len(groups))  # this relation's share
            a = base + (j - (len(ws) - 1) / 2) * sector / max(1, len(ws))
            r = 0.95 + 0.3 * (j % 2) + 0.25 * (w.depth - 1)  # staggered so labels overlap less
            x, yy = r * math.cos(a), r * math.sin(a)
            ax.plot([0, x * 0.8], [0, yy * 0.8], color=RELATION_COLOURS[rel], lw=0.8, alpha=0.6)
            ax.text(x, yy, w.word, ha="center", va="center", fontsize=8,
                    bbox=dict(boxstyle="round", fc="white", ec=RELATION_COLOURS[rel]))
        ax.text(1.8 * math.cos(base), 1.8 * math.sin(base), rel, ha="center", va="center",
                color=RELATION_COLOURS[rel], fontsize=10, fontweight="bold")
    ax.set_xlim(-2.1, 2.1)
    ax.set_ylim(-2.0, 2.0)
    ax.set_title(f"WordNet words for {expansion.keyword!r}"
                 + (f" (via head noun {expansion.lookup!r})" if expansion.lookup not in
                    ("", expansion.keyword) else ""), fontsize=10)
    lines = [f"noun senses of {expansion.lookup or expansion.keyword!r} (best first):", ""]
    for s in expansion.senses:
        mark = ">>" if s.synset in expansion.chosen else "  "
        lines.append(f"{mark} {s.synset}  score {s.score:+.2f}  [{s.lexname}]")
        lines += ["     " + t for t in textwrap.wrap(s.definition, 58)[:2]]
        lines.append("     why: " + ", ".join(s.reasons))
    if not expansion.senses:
        lines.append("(none: only template prompts with the keyword)")
    tx.text(0, 1, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=7.5,
            transform=tx.transAxes)
    if random_weights:
        fig.suptitle("WordNet part is real; CLIP in this run has " + RANDOM_NOTE, fontsize=9)
    fig.tight_layout()
    return fig
