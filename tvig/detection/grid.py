"""The benchmark grid (classes x shots x models x train sets x seeds) and its summaries.

:func:`run_grid` checks every input first (unknown models, shots larger than a class's
good set, missing ground truth, a missing generated folder) and only then trains; rows
already in the results CSV are skipped, so an interrupted grid resumes without duplicates.
:func:`summarise` gives mean and std over seeds per (class, model, k, train set).

Example:
    >>> from tvig.detection.grid import GridSpec, run_grid, summarise
    >>> from tvig.detection.config import DetectionConfig
    >>> spec = GridSpec(["brick"], DetectionConfig(shots=2, models="padim", image_size=64,
    ...                                            train_sets="real"))
    >>> len(spec.jobs())
    1
    >>> rows = run_grid(spec, data_root=None, dataset="sample", out_dir="/tmp/det")  # doctest: +SKIP
    >>> summarise("/tmp/det/results.csv")                                      # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm.auto import tqdm

from tvig import atomic
from tvig.detection.config import DetectionConfig
from tvig.detection.datasets import choose_shots, get_dataset, resolve_class
from tvig.detection.detectors import get_detector
from tvig.detection.run import KEY, done_keys, inputs_fingerprint, row_key, run_detection
from tvig.detection.training_sets import generated_images
from tvig.errors import InputError

METRICS = ("image_auroc", "image_ap", "pixel_auroc", "aupro")


@dataclass(frozen=True)
class GridSpec:
    """The classes of a grid and the one :class:`DetectionConfig` every run of it uses."""

    categories: Sequence[str]
    config: DetectionConfig = field(default_factory=DetectionConfig)

    def __post_init__(self) -> None:
        """A single class name is a one-element list."""
        c = self.categories
        object.__setattr__(self, "categories", (c,) if isinstance(c, str) else tuple(c))

    def jobs(self) -> list[dict[str, Any]]:
        """Every (category, k, seed, model, train_set); k='all' uses only the first seed."""
        cfg, out = self.config, []
        for c in self.categories:
            for k in cfg.shots:
                for seed in (cfg.seeds[:1] if k == "all" else cfg.seeds):
                    for m in cfg.models:
                        for t in cfg.train_sets:
                            out.append(dict(category=c, k=k, seed=seed, model=m, train_set=t))
        return out


def generated_for(generated_dir: "str | os.PathLike[str] | None", category: str) -> Path | None:
    """``generated_dir`` with ``{category}`` filled in (one generated set per class)."""
    return None if generated_dir is None else Path(str(generated_dir).format(category=category))


def check_grid(spec: GridSpec, *, data_root, dataset: str, out_dir, generated_dir=None) -> None:
    """Raise a :mod:`tvig.errors` exception for any bad data before anything trains (the
    settings were checked when ``spec.config`` was built). The ``sample`` dataset is
    materialised under ``out_dir/sample_data`` to count it."""
    cfg = spec.config
    get_dataset(dataset)
    atomic.check_writable(out_dir)
    for c in spec.categories:
        layout = resolve_class(dataset, data_root, c, download=cfg.download, work_dir=out_dir)
        for k in cfg.shots:
            n = len(choose_shots(layout, k, cfg.seeds[0]))
            for m in cfg.models:
                need = get_detector(m).min_train
                if "real" in cfg.train_sets and n < need:
                    raise InputError(f"{m} needs at least {need} training images; the real "
                                     f"train set with k={k} has {n} (use patchcore_r18 for "
                                     "1-shot baselines, or drop 'real')")
        needs_gen = "generated" in cfg.train_sets or ("augmented" in cfg.train_sets
                                                      and cfg.n_augment is None)
        if needs_gen:
            gen = generated_for(generated_dir, c)
            if gen is None:
                raise InputError("train sets 'generated' (and 'augmented' without n_augment) "
                                 "need a generated folder: pass --generated DIR (use "
                                 "{category} in it for one set per class)")
            generated_images(gen)


def run_grid(spec: GridSpec, *, data_root, dataset: str, out_dir, generated_dir=None,
             progress: bool = True, log: Callable[[str], None] = print,
             on_row: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
             ) -> list[dict[str, Any]]:
    """Run every job not yet in ``out_dir/results.csv``; returns the new rows.

    ``on_row(job)``: extra columns for a job's row (e.g. which shots made its generated set).
    """
    check_grid(spec, data_root=data_root, dataset=dataset, out_dir=out_dir,
               generated_dir=generated_dir)
    csv = Path(out_dir) / "results.csv"
    done = done_keys(csv)
    cfg = spec.config
    jobs = [j for j in spec.jobs() if row_key(dict(
        j, dataset=dataset, image_size=cfg.image_size, backbone=cfg.backbone_label(j["model"]),
        inputs=inputs_fingerprint(cfg, data_root, j["category"],
                                  generated_for(generated_dir, j["category"]),
                                  j["train_set"]))) not in done]
    skipped = len(spec.jobs()) - len(jobs)
    if skipped:
        log(f"resuming: {skipped} of {len(spec.jobs())} runs already in {csv}")
    said: set[str] = set()

    def log_once(msg: str) -> None:  # the random-backbone note once per grid, not per run
        if msg not in said:
            said.add(msg)
            log(msg)

    rows = []
    for j in tqdm(jobs, desc="detection runs", disable=not progress):
        rows.append(run_detection(spec.config, data_root, j["category"], j["k"], j["seed"],
                                  j["model"], j["train_set"], out_dir=out_dir, dataset=dataset,
                                  generated_dir=generated_for(generated_dir, j["category"]),
                                  results_csv=csv, extra=on_row(j) if on_row else None,
                                  log=log_once))
    return rows


def load_results(results: "str | os.PathLike[str] | Sequence[dict] | Any"):
    """A results CSV path, a list of rows or a DataFrame -> a DataFrame with numeric metrics."""
    import pandas as pd  # heavy: pandas only for result tables

    if isinstance(results, (str, os.PathLike)):
        df = pd.DataFrame(atomic.read_csv(results))
    else:
        df = pd.DataFrame(results)
    if df.empty:
        raise InputError("no detection results yet (the results table is empty)")
    for c in METRICS + ("seconds", "n_train", "n_generated", "seed"):
        if c in df:
            df[c] = pd.to_numeric(df[c].mask(df[c] == ""))  # empty: no masks -> NaN
    df["k"] = df["k"].astype(str)
    if "pretrained" in df:
        df["pretrained"] = df["pretrained"].astype(str).str.lower() == "true"
    return df


SETTINGS = ("image_size", "backbone", "profile", "data", "epochs")


def setting_columns(df) -> list[str]:
    """The identity columns of a summary: the protocol's, plus every setting that differs
    between rows (image size, data root, profile, ...) so rows of different settings are
    never averaged together."""
    base = ["dataset", "category", "model", "k", "train_set"]
    return base + [c for c in SETTINGS if c in df and df[c].astype(str).nunique() > 1]


def summarise(results) -> "Any":
    """Mean and std over seeds per (dataset, category, model, k, train_set, differing settings)."""
    df = load_results(results)
    group = setting_columns(df)
    metrics = [m for m in METRICS if m in df]  # tables from before image_ap lack it
    agg = df.groupby(group, sort=False)[metrics].agg(["mean", "std"])
    agg.columns = [f"{m}_{s}" for m, s in agg.columns]
    agg["n_seeds"] = df.groupby(group, sort=False)["seed"].nunique()
    agg["pretrained"] = df.groupby(group, sort=False)["pretrained"].all()
    return agg.reset_index()


def gains(results, metric: str = "image_auroc", versus: str = "generated"):
    """Per (dataset, category, model, k): mean ``metric`` of ``versus`` minus that of ``real``."""
    s = summarise(results)
    index = [c for c in setting_columns(s) if c != "train_set"]
    piv = s.pivot_table(index=index, columns="train_set", values=f"{metric}_mean")
    if "real" not in piv or versus not in piv:
        raise InputError(f"gains need both 'real' and {versus!r} rows in the results")
    out = (piv[versus] - piv["real"]).rename("gain").reset_index()
    return out.dropna(subset=["gain"])



def plan_train_sets(generated_dir, categories: Sequence[str],
                    wanted: Sequence[str] = ("real", "generated", "augmented"),
                    ) -> tuple[list[str], str]:
    """Which train sets can run, and a note when (b) must be skipped for lack of images.

    Without a generated set for every class, (b) is dropped and the control (c) needs an
    explicit ``n_augment`` (:func:`control_size`); the note says so (and how to make the
    generated set).
    """
    missing = []
    for c in categories:
        gen = generated_for(generated_dir, c)
        try:
            if gen is None:
                raise InputError("no folder")
            generated_images(gen)
        except InputError:
            missing.append(f"{c} ({gen})" if gen else c)
    if not missing or "generated" not in wanted:
        return list(wanted), ""
    return [t for t in wanted if t != "generated"], (
        "NOTE: no generated set for " + ", ".join(missing) + ". Train set (b) real + generated "
        "is SKIPPED; only the baseline (a) and the augmentation control (c) run. Make one with "
        "notebook 03 or `tvig generate`, then rerun (finished rows are kept).")


__all__ = ["GridSpec", "KEY", "check_grid", "run_grid", "summarise", "gains", "load_results",
           "plan_train_sets", "setting_columns"]


def control_size(n_augment: int | None, train_sets: Sequence[str], n_images: int,
                 log: Callable[[str], None] = print) -> int | None:
    """The control's image count: ``n_augment``; else as many as the generated set (None) when
    (b) runs; else the profile's ``n_images`` (said once).

    >>> control_size(None, ["real", "augmented"], 16, log=lambda s: None)
    16
    """
    if n_augment is None and "generated" not in train_sets:
        log(f"control (c) uses n_augment = {n_images} augmented images (the profile's n_images)")
        return n_images
    return n_augment
