"""The generated set on disk: ``OUT/images/*.png`` + ``OUT/manifest.csv``, atomic and resumable.

This module only writes. Which images make the set of n (:func:`plan_set`), every one selected:
  * first the candidates the rounds kept (R*m of them), best total score first
    (``source`` = ``kept``, ``rank`` = its rank in its round, ``pool_size`` = N candidates);
  * if n > R*m, the best of a larger pool of draws from the learned mixture
    (:mod:`tvig.integrator.pool`; ``source`` = ``pooled``, ``rank`` = its rank in the pool,
    ``pool_size`` = the pool's size), or, only with the ablation ``raw_draws``, unselected draws
    (``source`` = ``raw``).

Every file is written through :mod:`tvig.atomic` (temp + rename); a manifest row is added only
after its PNG exists. A rerun into the same folder skips every image that has both a file and a
row, and (the rounds and the pool being saved in the state folder) ends with the same set as an
uninterrupted run. ``OUT/.tvig-state/run.json`` holds the run's identity (category, shots, seed,
n, profile, integrator parameters); a different run into the same folder is refused.

Example:
    >>> import torch
    >>> from tvig.integrator.scoring import Scores
    >>> s = Scores(*(torch.tensor([0.5, 0.2]) for _ in range(4)))
    >>> items = plan_set(n=2, kept=(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), s,
    ...                  [(1, 7, 0), (1, 7, 3)], [0, 1], [1, 2], 4))
    >>> [(i.file, i.source, i.rank) for i in items]
    [('img_0000.png', 'kept', 1), ('img_0001.png', 'kept', 2)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from tqdm.auto import tqdm

from tvig import __version__, atomic
from tvig.errors import InputError
from tvig.images import save_png
from tvig.integrator.pool import PoolSelection
from tvig.integrator.rounds import IntegrationResult, IntegratorConfig
from tvig.integrator.scoring import SCORE_TERMS

IMAGES_DIR, MANIFEST, STATE_DIR, RUN_JSON = "images", "manifest.csv", ".tvig-state", "run.json"
POOL_STATE = "pool.pt"
MANIFEST_COLUMNS = ("file", "index", "source", "rank", "pool_size", "round", "seed", "candidate",
                    "component", "category", "prompt", *SCORE_TERMS, "profile", "profile_params",
                    "overrides", "integrator_params", "augmentations", "run_seed", "shots",
                    "device", "tvig_version", "random_weights")


@dataclass(frozen=True)
class SetItem:
    """One image of the planned set, with what it came from."""

    index: int
    file: str  # name under OUT/images
    source: str  # "kept" (by a round), "pooled" (best of the pool) or "raw" (ablation)
    rank: int  # rank in its pool (1 = best): its round's candidates, or the draw pool
    pool_size: int  # size of that pool
    round: int  # round that kept it; pooled/raw: R (the mixture after the last round)
    seed: int  # kept: the round's seed; pooled/raw: the draw's own seed
    candidate: int  # kept: index in its round's batch; pooled/raw: draw number j in the pool
    component: int  # the shot whose component it belongs to (0-based, in shot order)
    image: torch.Tensor  # (3, H, W) uint8
    scores: dict[str, float]  # the score terms, by manifest column


Kept = tuple  # (images uint8 (K,3,H,W), Scores (K,), origin, components, ranks, pool size N)


def kept_of(result: IntegrationResult, candidates: int) -> Kept:
    """The rounds' kept images in the form :func:`plan_set` takes."""
    return (torch.round(result.images * 255).to(torch.uint8), result.scores, result.origin,
            result.components or [0] * len(result.origin),
            result.ranks or [1] * len(result.origin), candidates)


def plan_set(*, n: int, kept: Kept, pool: PoolSelection | None = None,
             rounds: int = 0) -> list[SetItem]:
    """The n images of the set, in order: min(n, K) kept candidates, then the pool's picks."""
    imgs, scores, origin, comps, ranks, n_cand = kept
    items = [SetItem(i, f"img_{i:04d}.png", "kept", int(ranks[i]), int(n_cand), r, s, c,
                     int(comps[i]), imgs[i], scores.row(i))
             for i, (r, s, c) in enumerate(origin[:min(n, len(origin))])]
    need = n - len(items)
    if need > 0:
        if pool is None or len(pool.order) < need:
            raise InputError(f"the set needs {need} more images than the rounds kept, but no "
                             "pool selection of that size was given")
        for rank, (j, img) in enumerate(zip(pool.order[:need].tolist(), pool.images), 1):
            i = len(items)
            items.append(SetItem(i, f"img_{i:04d}.png", pool.path, rank, pool.size, rounds,
                                 int(pool.seeds[j]), j, int(pool.components[j]), img,
                                 pool.scores.row(j)))
    return items


def check_out_folder(out: "str | Path", run_key: dict[str, Any]) -> None:
    """Refuse an output path that is a file, or a folder holding a *different* run."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"output path is a file, not a folder: {out} (choose a folder for --out)")
    run_json = out / STATE_DIR / RUN_JSON
    if run_json.exists():
        old = json.loads(run_json.read_text())
        new = json.loads(json.dumps(run_key, sort_keys=True, default=str))
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if diff:
            raise InputError(f"output folder {out} holds a different run (differs in: "
                             f"{', '.join(diff)}); use another --out, or delete the folder to "
                             "start again")
    elif (out / MANIFEST).exists():
        raise InputError(f"output folder {out} holds a generated set of unknown origin "
                         f"(no {STATE_DIR}/{RUN_JSON}); use another --out")


def start_run(out: "str | Path", run_key: dict[str, Any]) -> Path:
    """Create OUT (after :func:`check_out_folder`), record the run key, drop stale temp files.
    Returns the state folder (for the integrator's round checkpoints)."""
    out = Path(out)
    check_out_folder(out, run_key)
    state = out / STATE_DIR
    atomic.write_json(state / RUN_JSON, run_key)
    for d in (out, out / IMAGES_DIR, state):
        if d.exists():
            atomic.clean_temp_files(d)
    return state


def finished(out: "str | Path") -> dict[str, dict[str, str]]:
    """Manifest rows (by file) whose PNG exists: the images a rerun can skip."""
    out = Path(out)
    return {r["file"]: r for r in atomic.read_csv(out / MANIFEST)
            if (out / IMAGES_DIR / r["file"]).is_file()}


def _row(item: SetItem, meta: dict[str, Any]) -> dict[str, Any]:
    return {"file": item.file, "index": item.index, "source": item.source, "rank": item.rank,
            "pool_size": item.pool_size, "round": item.round, "seed": item.seed,
            "candidate": item.candidate, "component": item.component,
            **{k: repr(v) for k, v in item.scores.items()}, **meta}


def manifest_meta(*, category: str, prompt: str, profile, config: IntegratorConfig,
                  run_seed: int | None = None, shots: Sequence[tuple[str, str]] = (),
                  device: str = "", overrides: dict[str, Any] | None = None,
                  augmentations: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest columns shared by every row: everything used to make the set, so that
    :func:`tvig.pipeline.reproduce` can remake any image from its row (``shots``: (file name,
    sha256) per shot, in the order they were read; ``run_seed``: the run's ``--seed``)."""
    return {"category": category, "prompt": prompt, "profile": profile.name,
            "profile_params": json.dumps(profile.to_dict(), sort_keys=True),
            "overrides": json.dumps(overrides or {}, sort_keys=True),
            "integrator_params": json.dumps(config.to_dict(), sort_keys=True),
            "augmentations": json.dumps(augmentations or {}, sort_keys=True),
            "run_seed": "" if run_seed is None else str(run_seed),
            "shots": json.dumps([list(s) for s in shots]), "device": str(device),
            "tvig_version": __version__, "random_weights": str(bool(profile.random_weights))}


def write_set(out: "str | Path", items: Sequence[SetItem], *, meta: dict[str, Any],
              progress: bool = True, callback: Callable[[str, dict], None] | None = None,
              ) -> list[dict[str, str]]:
    """Write the planned images into OUT (resuming); returns the final manifest rows."""
    out = Path(out)
    done = finished(out)
    bar = tqdm(total=len(items), desc="writing set", unit="img", disable=not progress)
    bar.update(sum(1 for it in items if it.file in done))
    for item in items:
        if item.file in done:
            continue
        save_png(item.image.float() / 255.0, out / IMAGES_DIR / item.file)
        atomic.append_csv_rows(out / MANIFEST, [_row(item, meta)])
        bar.update(1)
        if callback is not None:
            callback("image", {"index": item.index, "file": out / IMAGES_DIR / item.file})
    bar.close()
    rows = sorted(finished(out).values(), key=lambda r: int(r["index"]))
    write_manifest(out / MANIFEST, rows)  # in index order, exactly one row per image
    return atomic.read_csv(out / MANIFEST)


def write_manifest(path: "str | Path", rows: Sequence[dict[str, Any]]) -> None:
    """Write the manifest atomically with the standard column order."""
    atomic.write_csv(path, rows, MANIFEST_COLUMNS)
