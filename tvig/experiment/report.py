"""``tvig experiment report``: the paper README's layout, the gains, and the Fig. 2 analysis.

From ``results.csv`` (written from the unit folders):
  * ``tables.md`` / ``table_<dataset>_k<k>.csv``: one table per (dataset, shot setting), rows
    model x train set, columns the classes + mean (image AUROC, mean +- std over seeds), with
    the paper's published MVTec AD numbers as extra rows (:mod:`tvig.experiment.paper`);
  * ``gains.csv``: per (dataset, k, model, class) the gain of ``+generated`` and of the
    control ``+augmented`` over ``real``, mean +- std over seeds (paired by seed);
  * ``gains_per_class.png`` and ``gain_vs_quality.png`` (one point per run: the gain
    against the generated set's CLIP similarity to its shots and its diversity).

Example:
    >>> write_report("runs/exp/results.csv", "runs/exp/report")        # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tvig import atomic
from tvig.detection.grid import load_results, setting_columns
from tvig.errors import InputError
from tvig.experiment.paper import CITATION, DATASET, paper_class, paper_mean
from tvig.plots.common import save_figure
from tvig.plots.detection import plot_gain_scatter

METRIC = "image_auroc"
RUN = ["dataset", "category", "k", "seed", "model"]  # one run of one detector


def _pm(mean: float, std: float) -> str:
    return f"{mean:.3f}" if std != std else f"{mean:.3f} ± {std:.3f}"  # std NaN: one seed


def paper_tables(df) -> dict[tuple[str, str], Any]:
    """{(dataset, k): DataFrame} rows model x train set (+ paper rows), columns classes + mean."""
    import pandas as pd  # heavy: pandas only for result tables

    out = {}
    extra = [c for c in setting_columns(df)[5:]]  # settings that differ: one table each
    for key, part in df.groupby(["dataset", "k", *extra], sort=False):
        k = key[1]
        classes = list(dict.fromkeys(part["category"]))
        rows = []
        for (m, t), g in part.groupby(["model", "train_set"], sort=False):
            by_seed = g.pivot_table(index="seed", columns="category", values=METRIC)
            row = {"model": m, "train set": t}
            for c in classes:
                row[c] = _pm(by_seed[c].mean(), by_seed[c].std()) if c in by_seed else ""
            mean_over = by_seed[classes].mean(axis=1) if set(classes) <= set(by_seed) else None
            row["mean"] = "" if mean_over is None else _pm(mean_over.mean(), mean_over.std())
            rows.append(row)
        for m in dict.fromkeys(part["model"]):
            if paper_mean(m, k) is None:
                continue
            row = {"model": m, "train set": f"paper ({DATASET})"}
            for c in classes:
                v = paper_class(m, k, c)
                row[c] = "" if v is None else f"{v:.3f}"
            row["mean"] = f"{paper_mean(m, k):.3f} (15 classes)"
            rows.append(row)
        out[tuple(str(v) for v in key)] = pd.DataFrame(rows)
    return out


def gains_table(df):
    """Per (dataset, k, model, class): gain of generated and of augmented over real, paired
    by seed, mean and std over seeds; and the per-run table (with similarity/diversity)."""
    extra = setting_columns(df)[5:]
    run = RUN + extra
    piv = df.pivot_table(index=run, columns="train_set", values=METRIC).reset_index()
    if "real" not in piv:
        raise InputError("gains need the 'real' train set in the results")
    for t, name in (("generated", "gain_generated"), ("augmented", "gain_control")):
        if t in piv:
            piv[name] = piv[t] - piv["real"]
    q = df[df["train_set"] == "generated"][run + ["similarity", "diversity"]]
    if len(q):
        piv = piv.merge(q, on=run, how="left")
    cols = [c for c in ("gain_generated", "gain_control") if c in piv]
    agg = piv.groupby(["dataset", "k", "model", "category", *extra], sort=False)[cols].agg(["mean",
                                                                                   "std"])
    agg.columns = [f"{a}_{b}" for a, b in agg.columns]
    agg["n_seeds"] = piv.groupby(["dataset", "k", "model", "category", *extra], sort=False)["seed"].nunique()
    return agg.reset_index(), piv


def _markdown(t) -> str:
    cols = list(t.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in t.itertuples(index=False)]
    return "\n".join(lines)


def plot_gains_per_class(gains):
    """Bars: mean gain per class (+generated and control), error bars = std over seeds."""
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw

    labels = [f"{r.category}\nk={r.k} {r.model}" for r in gains.itertuples()]
    x = np.arange(len(labels))  # (n_bars,)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(labels)), 3.4))
    for j, (col, name) in enumerate((("gain_generated", "+ generated"),
                                     ("gain_control", "+ augmentation (control)"))):
        if f"{col}_mean" in gains:
            ax.bar(x + (j - 0.5) * 0.38, gains[f"{col}_mean"], 0.38,
                   yerr=gains[f"{col}_std"].fillna(0), label=name, capsize=3)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("image AUROC gain over real")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_gain_vs_quality(runs):
    """The paper's Fig. 2: one point per run (class, k, seed, model)."""
    r = runs.dropna(subset=["gain_generated", "similarity", "diversity"]).copy()
    if r.empty:
        raise InputError("no run has both a +generated gain and a generated-set report")
    r["category"] = [f"{a} k{b} s{c}" for a, b, c in zip(r["category"], r["k"], r["seed"])]
    return plot_gain_scatter(r.rename(columns={"gain_generated": "gain"})[["category", "gain"]],
                             r[["category", "similarity", "diversity"]])


def write_report(results: "str | os.PathLike[str]", folder: "str | os.PathLike[str]",
                 ) -> dict[str, Path]:
    """Write the tables (md + csv), gains and figures into ``folder``; returns the paths."""
    import pandas as pd  # heavy: pandas only for result tables

    df = load_results(results)
    for c in ("similarity", "diversity"):
        df[c] = pd.to_numeric(df.get(c, pd.Series(dtype=float)), errors="coerce")
    folder = Path(folder)
    paths: dict[str, Path] = {}
    md = ["# Detection results (image AUROC, mean ± std over seeds)", "",
          f"Paper rows: {CITATION}.", ""]
    if not df["pretrained"].all():
        md += ["**Rows with random backbones (pretrained=False): not meaningful scores.**", ""]
    extra = setting_columns(df)[5:]
    for key, t in paper_tables(df).items():
        ds, k = key[0], key[1]
        name = "table_" + "_".join([ds, f"k{k}", *key[2:]]).replace("/", "-")
        atomic.write_csv(folder / f"{name}.csv", t.to_dict("records"), list(t.columns))
        paths[name] = folder / f"{name}.csv"
        where = "".join(f", {c} = {v}" for c, v in zip(extra, key[2:]))
        md += [f"## {ds}, k = {k}{where}", "", _markdown(t), ""]
    if "real" in set(df["train_set"]):
        gains, runs = gains_table(df)
        atomic.write_csv(folder / "gains.csv", gains.round(6).to_dict("records"),
                         list(gains.columns))
        paths["gains"] = folder / "gains.csv"
        md += ["## Gains over real (mean ± std over seeds, paired by seed)", "",
               _markdown(gains.round(4)), ""]
        paths["gains_figure"] = save_figure(plot_gains_per_class(gains),
                                            folder / "gains_per_class.png")
        if "gain_generated" in runs and runs["similarity"].notna().any():
            paths["quality_figure"] = save_figure(plot_gain_vs_quality(runs),
                                                  folder / "gain_vs_quality.png")
            md += ["![gain vs similarity and diversity](gain_vs_quality.png)", ""]
        md += ["![gains per class](gains_per_class.png)", ""]
    atomic.write_text(folder / "tables.md", "\n".join(md))
    paths["markdown"] = folder / "tables.md"
    return paths


__all__ = ["write_report", "paper_tables", "gains_table", "plot_gains_per_class",
           "plot_gain_vs_quality"]
