"""Detection figures: train-set bars, the qualitative grid, gain vs similarity/diversity.

Each function returns a matplotlib Figure. Inputs are the tables of
:mod:`tvig.detection.grid` (``summarise``, ``gains``) and the ``maps.npz`` files that
``run_detection(..., keep_maps=True)`` writes.

Example:
    >>> from tvig.detection.grid import summarise
    >>> from tvig.plots.detection import plot_train_set_bars
    >>> fig = plot_train_set_bars(summarise("det/results.csv"))   # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from tvig.errors import InputError
from tvig.images import open_image

TRAIN_SET_LABELS = {"real": "baseline (real shots)", "generated": "+ generated",
                    "augmented": "+ augmentation (control)"}
TRAIN_SET_COLOURS = {"real": "#7f7f7f", "generated": "#1f77b4", "augmented": "#ff7f0e"}
RANDOM_NOTE = "RANDOM backbone weights: scores are not meaningful"


def plot_train_set_bars(summary, metric: str = "image_auroc"):
    """Bars per class: baseline vs +generated vs +augmentation (mean ± std over seeds).

    One panel per (model, k). ``summary`` is :func:`tvig.detection.grid.summarise`'s table.
    """
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw

    panels = list(summary.groupby(["model", "k"], sort=False))
    fig, axes = plt.subplots(1, len(panels), figsize=(1.2 + 3.2 * len(panels), 3.6),
                             squeeze=False, sharey=True)
    sets = [t for t in TRAIN_SET_LABELS if t in set(summary["train_set"])]
    width = 0.8 / max(1, len(sets))
    for ax, ((model, k), df) in zip(axes[0], panels):
        cats = list(dict.fromkeys(df["category"]))
        x = np.arange(len(cats))
        for i, t in enumerate(sets):
            sub = df[df["train_set"] == t].set_index("category").reindex(cats)
            ax.bar(x + (i - (len(sets) - 1) / 2) * width, sub[f"{metric}_mean"], width,
                   yerr=sub[f"{metric}_std"].fillna(0), capsize=2, label=TRAIN_SET_LABELS[t],
                   color=TRAIN_SET_COLOURS[t])
        ax.set_xticks(x, cats, rotation=30, ha="right")
        ax.set_title(f"{model}, k={k}")
        ax.set_ylim(0, 1.05)
        ax.axhline(0.5, color="k", lw=0.5, ls=":")  # chance level for AUROC
    axes[0][0].set_ylabel(metric.replace("_", " "))
    title = f"{metric.replace('_', ' ')}: mean ± std over seeds"
    if "pretrained" in summary and not summary["pretrained"].all():
        title += f"\n{RANDOM_NOTE}"
    fig.suptitle(title, fontsize=10)
    # one legend below the panels: inside an axis it covers bars (issue 18 row 9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(sets), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def load_maps(path: "str | os.PathLike[str]") -> dict[str, np.ndarray]:
    """The arrays ``run_detection(keep_maps=True)`` saved (image_path, anomaly_map, ...)."""
    if not os.path.exists(path):
        raise InputError(f"no anomaly maps at {path} (run the detection with keep_maps=True / "
                         "tvig detect --maps)")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def defect_type(image_path: str) -> str:
    """The defect of a test image: its folder's name (``test/<defect>/000.png``)."""
    return os.path.basename(os.path.dirname(str(image_path)))


def _pick(maps: dict[str, np.ndarray], n: int) -> list[int]:
    """n defective test images, one per defect type first (the one with the largest
    ground-truth area, the most visible; without masks, the highest score), defect types in name
    order; then the next largest."""
    bad = np.flatnonzero(maps["gt_label"] > 0)
    area = (maps["gt_mask"][bad].reshape(len(bad), -1).sum(1) if "gt_mask" in maps
            else maps["pred_score"][bad])
    order = [int(i) for i in bad[np.argsort(-area, kind="stable")]]  # largest first
    first: dict[str, int] = {}
    for i in order:
        first.setdefault(defect_type(maps["image_path"][i]), i)
    picked = [first[d] for d in sorted(first)][:n]
    return picked + [i for i in order if i not in picked][:n - len(picked)]


def map_scale(maps: Sequence[dict[str, np.ndarray]], q: tuple[float, float] = (1, 99.5),
              ) -> tuple[float, float]:
    """One colour range (raw score percentiles ``q``) over the anomaly maps of all ``maps``:
    the panels compared share it, so a brighter map means a higher score in every run.

    >>> a = {"anomaly_map": np.zeros((1, 2, 2))}; b = {"anomaly_map": np.full((1, 2, 2), 700.)}
    >>> map_scale([a, b], q=(0, 100))
    (0.0, 700.0)
    """
    values = np.concatenate([m["anomaly_map"].astype(np.float32).reshape(-1) for m in maps])
    lo, hi = np.percentile(values, q)
    return float(lo), float(hi)


def plot_qualitative(runs: Sequence[tuple[str, dict[str, np.ndarray]]], n: int = 4,
                     note: str | None = None):
    """Paper-style grid: image, ground truth, then per run: anomaly map, predicted mask, contour.

    Every anomaly map uses one colour scale (:func:`map_scale` over all runs' raw maps). One row
    per defect type first (see :func:`_pick`), labelled with the defect and file name.
    ``runs`` = [("baseline", maps), ("+ generated", maps), ...] on the same test set;
    ``note`` (e.g. :data:`RANDOM_NOTE`) is added to the title.
    """
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw

    if not runs:
        raise InputError("plot_qualitative needs at least one (label, maps) pair")
    ref = runs[0][1]
    for label, m in runs[1:]:
        if list(m["image_path"]) != list(ref["image_path"]):
            raise InputError(f"run {label!r} was tested on other images than {runs[0][0]!r}")
    rows = _pick(ref, n)
    ncol = 2 + 3 * len(runs)
    fig, axes = plt.subplots(len(rows), ncol, figsize=(1.5 * ncol, 1.5 * len(rows) + 0.6),
                             squeeze=False)
    side = ref["anomaly_map"].shape[-1]
    lo, hi = map_scale([m for _, m in runs])
    for r, i in enumerate(rows):
        img = np.asarray(open_image(str(ref["image_path"][i]), side)[0])
        gt = ref["gt_mask"][i] if "gt_mask" in ref else np.zeros((side, side), bool)  # no masks
        cells = [(img, None, "image"), (gt, "gray", "ground truth")]
        for label, m in runs:
            amap = m["anomaly_map"][i].astype(np.float32)
            cells += [((amap - lo) / max(hi - lo, 1e-8), "jet", f"{label}\nanomaly map"),
                      (m["pred_mask"][i], "gray", f"{label}\npredicted mask"),
                      (img, None, f"{label}\ncontour")]
        for c, (arr, cmap, title) in enumerate(cells):
            ax = axes[r][c]
            ax.imshow(arr, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None)
            if title.endswith("contour"):
                m = runs[(c - 2) // 3][1]
                if m["pred_mask"][i].any():
                    ax.contour(m["pred_mask"][i], levels=[0.5], colors="red", linewidths=0.8)
                if gt.any():
                    ax.contour(gt, levels=[0.5], colors="lime", linewidths=0.6)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=7)
        path = str(ref["image_path"][i])
        axes[r][0].set_ylabel(f"{defect_type(path)}\n{os.path.basename(path)}", fontsize=7)
    title = ("defective test images (contour: red = predicted, green = ground truth)\n"
             f"every anomaly map on one colour scale: raw score {lo:.4g} (blue) to {hi:.4g} (red)")
    fig.suptitle(title + (f"\n{note}" if note else ""), fontsize=9)
    fig.tight_layout()
    return fig


def plot_gain_scatter(gains, quality, metric: str = "image AUROC"):
    """The paper's Fig. 2 analysis: gain vs similarity and gain vs diversity, one point per
    (class, model, k). ``quality`` has columns ``category``, ``similarity``, ``diversity``
    (e.g. CLIP similarity of generated to real images, and their spread).
    """
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw
    import pandas as pd

    quality = pd.DataFrame(quality)
    missing = {"category", "similarity", "diversity"} - set(quality.columns)
    if missing:
        raise InputError(f"quality table lacks column(s) {', '.join(sorted(missing))}; it needs "
                         "category, similarity, diversity (one row per class)")
    df = pd.DataFrame(gains).merge(quality, on="category")
    if df.empty:
        raise InputError("no class has both a gain and a quality report")
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), sharey=True)
    for ax, col in zip(axes, ("similarity", "diversity")):
        ax.scatter(df[col], df["gain"], c="#1f77b4")
        for _, r in df.iterrows():
            ax.annotate(str(r["category"]), (r[col], r["gain"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        if len(df) > 2 and df[col].std() > 0 and df["gain"].std() > 0:
            rho = float(np.corrcoef(df[col], df["gain"])[0, 1])
            ax.set_title(f"gain vs {col} (Pearson r = {rho:+.2f}, n = {len(df)})", fontsize=9)
        else:
            ax.set_title(f"gain vs {col} (n = {len(df)})", fontsize=9)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel(col)
    axes[0].set_ylabel(f"{metric} gain (+generated − baseline)")
    fig.tight_layout()
    return fig


__all__: list[Any] = ["plot_train_set_bars", "plot_qualitative", "plot_gain_scatter",
                      "load_maps", "map_scale"]
