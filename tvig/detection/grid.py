"""The benchmark grid (classes x shots x models x train sets x seeds) and its summaries.

:func:`run_grid` checks every input first (unknown models, shots larger than a class's
good set, missing ground truth, a missing generated folder) and only then trains; rows
already in the results CSV are skipped, so an interrupted grid resumes without duplicates.
:func:`summarise` gives mean and std over seeds per (class, model, k, train set).

Example:
    >>> from tvig.detection.grid import GridSpec, run_grid, summarise
    >>> spec = GridSpec(categories=["brick"], shots=[1], models=["padim"])     # doctest: +SKIP
    >>> rows = run_grid(spec, data_root=None, dataset="sample", out_dir="/tmp/det",
    ...                 image_size=64)                                          # doctest: +SKIP
    >>> summarise("/tmp/det/results.csv")                                      # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm.auto import tqdm

from tvig import atomic
from tvig.detection.datasets import (
    choose_shots,
    get_dataset,
    parse_shots,
    resolve_class,
)
from tvig.detection.detectors import backbone_label, get_detector
from tvig.detection.run import KEY, done_keys, row_key, run_detection
from tvig.detection.training_sets import TRAIN_SETS, generated_images
from tvig.errors import ConfigError, InputError, choices_text
from tvig.seeding import resolve_device

METRICS = ("image_auroc", "image_ap", "pixel_auroc", "aupro")


@dataclass
class GridSpec:
    categories: Sequence[str]
    shots: Sequence["int | str"] = (1, 5)
    models: Sequence[str] = ("patchcore_r18",)
    train_sets: Sequence[str] = ("real", "generated", "augmented")
    seeds: Sequence[int] = (0, 1, 2)

    def __post_init__(self) -> None:
        """A single value (``shots=1``, ``models="padim"``) is a one-element list."""
        for name in ("categories", "shots", "models", "train_sets", "seeds"):
            v = getattr(self, name)
            object.__setattr__(self, name, (v,) if isinstance(v, (str, int)) else tuple(v))

    def jobs(self) -> list[dict[str, Any]]:
        """Every (category, k, seed, model, train_set); k='all' uses only the first seed."""
        out = []
        for c in self.categories:
            for k in map(parse_shots, self.shots):
                for seed in (self.seeds[:1] if k == "all" else self.seeds):
                    for m in self.models:
                        for t in self.train_sets:
                            out.append(dict(category=c, k=k, seed=seed, model=m, train_set=t))
        return out


def generated_for(generated_dir: "str | os.PathLike[str] | None", category: str) -> Path | None:
    """``generated_dir`` with ``{category}`` filled in (one generated set per class)."""
    return None if generated_dir is None else Path(str(generated_dir).format(category=category))


def _positive(name: str, v: Any, *, optional: bool = False) -> None:
    if optional and v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"{name} must be a positive integer, got {v!r}")


def check_accelerator(device: str) -> None:
    """``cpu``/``auto``, or ``gpu``/``cuda`` only where CUDA is available (Lightning names)."""
    device = str(device)
    if device in ("cpu", "auto"):
        return
    if device in ("gpu", "cuda"):

        resolve_device("cuda")  # the clear "no CUDA GPU here" error
        return
    raise ConfigError(choices_text("device", device, ["auto", "cpu", "gpu", "cuda"]))


def check_grid(spec: GridSpec, *, data_root, dataset: str, out_dir, image_size: int,
               generated_dir=None, n_augment: int | None = None, download: bool = False,
               epochs: int | None = None, device: str = "cpu", backbone: str | None = None,
               layers: "Sequence[str] | None" = None) -> None:
    """Raise a :mod:`tvig.errors` exception for any bad input before anything trains.

    Parameters are checked first (nothing is written when one is wrong), then each class's
    data (the ``sample`` dataset is materialised under ``out_dir/sample_data`` to count it).
    """
    _positive("image size", image_size)
    _positive("n_augment (augmented images)", n_augment, optional=True)
    _positive("epochs", epochs, optional=True)
    for s in spec.seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ConfigError(f"seeds must be integers >= 0, got {s!r}")
    for k in spec.shots:
        parse_shots(k)
    check_accelerator(device)
    get_dataset(dataset)
    atomic.check_writable(out_dir)
    for m in spec.models:
        backbone_label(m, backbone, layers)  # unknown timm name or layer: the valid ones
        if image_size < get_detector(m).min_image_size:
            raise InputError(f"{m} needs image_size >= {get_detector(m).min_image_size}, got "
                             f"{image_size} (pass --image-size or another profile)")
    for t in spec.train_sets:
        if t not in TRAIN_SETS:
            raise InputError(choices_text("train set", t, list(TRAIN_SETS)))
    if not spec.seeds:
        raise InputError("give at least one seed")
    for c in spec.categories:
        layout = resolve_class(dataset, data_root, c, download=download, work_dir=out_dir)
        for k in spec.shots:
            n = len(choose_shots(layout, k, spec.seeds[0]))
            for m in spec.models:
                need = get_detector(m).min_train
                if "real" in spec.train_sets and n < need:
                    raise InputError(f"{m} needs at least {need} training images; the real "
                                     f"train set with k={k} has {n} (use patchcore_r18 for "
                                     "1-shot baselines, or drop 'real')")
        needs_gen = "generated" in spec.train_sets or ("augmented" in spec.train_sets
                                                       and n_augment is None)
        if needs_gen:
            gen = generated_for(generated_dir, c)
            if gen is None:
                raise InputError("train sets 'generated' (and 'augmented' without n_augment) "
                                 "need a generated folder: pass --generated DIR (use "
                                 "{category} in it for one set per class)")
            generated_images(gen)


def run_grid(spec: GridSpec, *, data_root, dataset: str, out_dir, image_size: int,
             generated_dir=None, n_augment: int | None = None, progress: bool = True,
             log: Callable[[str], None] = print, **kwargs) -> list[dict[str, Any]]:
    """Run every job not yet in ``out_dir/results.csv``; returns the new rows.

    ``kwargs`` go to :func:`tvig.detection.run.run_detection` (epochs, backbone, device, ...).
    """

    check_grid(spec, data_root=data_root, dataset=dataset, out_dir=out_dir,
               image_size=image_size, generated_dir=generated_dir, n_augment=n_augment,
               download=kwargs.get("download", False), epochs=kwargs.get("epochs"),
               device=kwargs.get("device", "cpu"), backbone=kwargs.get("backbone"),
               layers=kwargs.get("layers"))
    csv = Path(out_dir) / "results.csv"
    done = done_keys(csv)
    labels = {m: backbone_label(m, kwargs.get("backbone"), kwargs.get("layers"))
              for m in spec.models}
    jobs = [j for j in spec.jobs() if row_key(dict(
        j, dataset=dataset, image_size=image_size, backbone=labels[j["model"]])) not in done]
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
        rows.append(run_detection(data_root, j["category"], j["k"], j["seed"], j["model"],
                                  j["train_set"], generated_dir=generated_for(generated_dir,
                                                                              j["category"]),
                                  image_size=image_size, out_dir=out_dir, dataset=dataset,
                                  n_augment=n_augment, results_csv=csv, log=log_once,
                                  **kwargs))
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


def summarise(results) -> "Any":
    """Mean and std over seeds per (dataset, category, model, backbone, k, train_set)."""
    df = load_results(results)
    group = ["dataset", "category", "model"] + (["backbone"] if "backbone" in df else []) + [
        "k", "train_set"]
    metrics = [m for m in METRICS if m in df]  # tables from before image_ap lack it
    agg = df.groupby(group, sort=False)[metrics].agg(["mean", "std"])
    agg.columns = [f"{m}_{s}" for m, s in agg.columns]
    agg["n_seeds"] = df.groupby(group, sort=False)["seed"].nunique()
    agg["pretrained"] = df.groupby(group, sort=False)["pretrained"].all()
    return agg.reset_index()


def gains(results, metric: str = "image_auroc", versus: str = "generated"):
    """Per (dataset, category, model, k): mean ``metric`` of ``versus`` minus that of ``real``."""
    s = summarise(results)
    index = ["dataset", "category", "model"] + (["backbone"] if "backbone" in s else []) + ["k"]
    piv = s.pivot_table(index=index, columns="train_set",
                        values=f"{metric}_mean")
    if "real" not in piv or versus not in piv:
        raise InputError(f"gains need both 'real' and {versus!r} rows in the results")
    out = (piv[versus] - piv["real"]).rename("gain").reset_index()
    return out.dropna(subset=["gain"])



def plan_train_sets(generated_dir, categories: Sequence[str],
                    wanted: Sequence[str] = ("real", "generated", "augmented"),
                    ) -> tuple[list[str], str]:
    """Which train sets can run, and a note when (b) must be skipped for lack of images.

    Without a generated set for every class, (b) is dropped and the control (c) needs an
    explicit ``n_augment``; the note says so (and how to make the generated set).
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
           "plan_train_sets"]
