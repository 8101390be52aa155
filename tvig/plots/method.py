"""The method at a glance: the three modules of tvig and what flows between them (one figure).

Example:
    >>> from tvig.plots.method import modules_figure
    >>> fig = modules_figure()
    >>> fig.savefig("modules.png")          # doctest: +SKIP
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

_BOXES = {  # key: (x, y, w, h, title, body, colour)
    "in": (0.2, 2.3, 2.2, 1.4, "Input", "k real good shots\n+ class name (keyword)", "#eeeeee"),
    "m1": (3.1, 2.3, 2.9, 1.4, "1  Keyword-to-prompt",
           "WordNet words -> templates\nrank by CLIP(text, shots)\n-> best prompt p*", "#dbe9f6"),
    "m2": (6.8, 2.3, 3.1, 1.4, "2  Variance-aware VQGAN",
           "z = mu + sigma * eps -> decode\nloss: CLIP text + CLIP image\n+ KL(N(mu,sigma) || N(mu0,sigma0))",
           "#e2f0d9"),
    "m3": (6.8, 0.1, 3.1, 1.5, "3  Text-guided integrator",
           "score candidates (text, image,\nlatent distance); keep top m;\nupdate (mu, sigma); R rounds",
           "#fbe5d6"),
    "out": (3.1, 0.1, 2.9, 1.5, "Generated set",
            "PNG images + manifest.csv\n(prompt, seed, round, scores)", "#eeeeee"),
    "det": (0.2, 0.1, 2.2, 1.5, "Detection",
            "anomalib, unchanged:\nreal vs real+generated\nvs real+augmented", "#f2f2f2"),
}
_ARROWS = [("in", "m1", "shots, keyword"), ("m1", "m2", "p*"), ("m2", "m3", "N candidates"),
           ("m3", "out", "top images"), ("out", "det", "train")]


def _anchor(box: tuple, side: str) -> tuple[float, float]:
    x, y, w, h = box[:4]
    return {"r": (x + w, y + h / 2), "l": (x, y + h / 2), "b": (x + w / 2, y),
            "t": (x + w / 2, y + h)}[side]


def modules_figure() -> Figure:
    """A 10 x 4 diagram: input -> 1 prompt -> 2 VQGAN -> 3 integrator (loop) -> set -> detection."""
    fig = Figure(figsize=(10.8, 4), dpi=110)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10.8)
    ax.set_ylim(0, 3.9)
    ax.axis("off")
    for x, y, w, h, title, body, colour in _BOXES.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.03,rounding_size=0.12",
                                    fc=colour, ec="#444444", lw=1.2))
        ax.text(x + w / 2, y + h - 0.22, title, ha="center", va="top", fontsize=10.5, weight="bold")
        ax.text(x + w / 2, y + h - 0.55, body, ha="center", va="top", fontsize=8.5, linespacing=1.35)
    sides = {("in", "m1"): ("r", "l"), ("m1", "m2"): ("r", "l"), ("m2", "m3"): ("b", "t"),
             ("m3", "out"): ("l", "r"), ("out", "det"): ("l", "r")}
    for a, b, label in _ARROWS:
        sa, sb = sides[(a, b)]
        pa, pb = _anchor(_BOXES[a], sa), _anchor(_BOXES[b], sb)
        ax.add_patch(FancyArrowPatch(pa, pb, arrowstyle="-|>", mutation_scale=14, lw=1.4, color="#333333"))
        mx, my = (pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2
        ax.text(mx + (0.08 if sa == "b" else 0), my + (0.12 if sa != "b" else 0), label,
                ha="left" if sa == "b" else "center", fontsize=8, style="italic")
    m2, m3 = _BOXES["m2"], _BOXES["m3"]
    ax.add_patch(FancyArrowPatch((m3[0] + m3[2], m3[1] + m3[3] / 2), (m2[0] + m2[2], m2[1] + m2[3] / 2),
                                 connectionstyle="arc3,rad=0.6", arrowstyle="-|>", mutation_scale=12,
                                 lw=1.3, color="#a0522d"))
    ax.text(10.38, 1.95, "next round:\nupdated\n(mu, sigma)", fontsize=7.5, color="#a0522d",
            ha="right", va="center")
    return fig
