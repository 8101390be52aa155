"""The generated set on disk: ``OUT/images/*.png`` + ``OUT/manifest.csv``, atomic and resumable.

Which images make the set of n (:func:`plan_set`):
  * first the candidates the rounds kept (R*m of them), best total score first;
  * if n > R*m, the rest are **sampled from the learned distribution** N(mu, sigma^2) of the last
    round, quantised and decoded, *without* optimisation (the cheap path: one decoder pass per
    image instead of ``steps`` CLIP+VQGAN passes). Sampled image j uses its own seed
    ``derive_seed(seed, "sample", j)``; they are decoded in fixed chunks of ``chunk`` images.

Every file is written through :mod:`tvig.atomic` (temp + rename); a manifest row is added only
after its PNG exists. A rerun into the same folder skips every image that has both a file and a
row, recomputes the rest from the same seeds, and so ends with the same set as an uninterrupted
run. ``OUT/.tvig-state/run.json`` holds the run's identity (category, shots, seed, n, profile,
integrator parameters); a different run into the same folder is refused.

Example:
    >>> from tvig.integrator.writer import plan_set
    >>> [(i.file, i.source) for i in plan_set(kept=2, n=3, rounds=2, origin=[(1, 7, 0), (2, 9, 3)],
    ...                                       seed=0)][:3]                # doctest: +ELLIPSIS
    [('img_0000.png', 'kept'), ('img_0001.png', 'kept'), ('img_0002.png', 'sampled')]
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
from tvig.generator.optimisation import _decode
from tvig.images import save_png, to_uint8
from tvig.integrator.rounds import (
    IntegrationResult,
    IntegratorConfig,
    derive_seed,
    score_images,
)
from tvig.integrator.scoring import SCORE_TERMS
from tvig.speed import SpeedConfig, split_on_oom

IMAGES_DIR, MANIFEST, STATE_DIR, RUN_JSON = "images", "manifest.csv", ".tvig-state", "run.json"
MANIFEST_COLUMNS = ("file", "index", "source", "round", "seed", "candidate", "category", "prompt",
                    *SCORE_TERMS, "profile", "profile_params", "integrator_params",
                    "run_seed", "shots", "device", "tvig_version", "random_weights")


@dataclass(frozen=True)
class SetItem:
    """One image of the planned set."""

    index: int
    file: str  # name under OUT/images
    source: str  # "kept" (selected by a round) or "sampled" (cheap path, from the learned mu, sigma)
    round: int  # round that kept it; for "sampled": R (the distribution after the last round)
    seed: int  # kept: the round's seed; sampled: the image's own seed
    candidate: int  # kept: index in its round's batch; sampled: sample number j


def plan_set(*, kept: int, n: int, rounds: int, origin: Sequence[tuple[int, int, int]],
             seed: int) -> list[SetItem]:
    """The n images of the set, in order: min(n, kept) kept candidates, then sampled ones."""
    items = [SetItem(i, f"img_{i:04d}.png", "kept", r, s, c)
             for i, (r, s, c) in enumerate(origin[:min(n, kept)])]
    for j in range(n - len(items)):
        i = len(items)
        items.append(SetItem(i, f"img_{i:04d}.png", "sampled", rounds,
                             derive_seed(seed, "sample", j), j))
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


@torch.inference_mode()
def sample_latents(vqgan, mu: torch.Tensor, sigma: torch.Tensor, seeds: Sequence[int],
                   speed: SpeedConfig | None = None) -> torch.Tensor:
    """Decode one image per seed from N(mu, sigma^2): z = mu + sigma*eps, quantised.

    eps for each image comes from its own CPU generator, so image j is the same whichever
    chunk it is decoded in (the batch halves on out-of-memory). mu, sigma (C, h, w) ->
    images (B, 3, H, W) in [0, 1].
    """

    eps = torch.stack([torch.randn(mu.shape, generator=torch.Generator().manual_seed(int(s)))
                       for s in seeds])  # (B, C, h, w)
    z = mu.cpu() + sigma.cpu() * eps
    return split_on_oom(lambda b: _decode(vqgan, b, speed), z.to(vqgan.device)).clamp(0, 1)


def _row(item: SetItem, scores: dict[str, float], meta: dict[str, Any]) -> dict[str, Any]:
    return {"file": item.file, "index": item.index, "source": item.source, "round": item.round,
            "seed": item.seed, "candidate": item.candidate, **{k: repr(v) for k, v in scores.items()},
            **meta}


def manifest_meta(*, category: str, prompt: str, profile, config: IntegratorConfig,
                  run_seed: int | None = None, shots: Sequence[tuple[str, str]] = (),
                  device: str = "") -> dict[str, Any]:
    """The manifest columns shared by every row: everything used to make the set, so that
    :func:`tvig.pipeline.reproduce` can remake any image from its row (``shots``: (file name,
    sha256) per shot, in the order they were read; ``run_seed``: the run's ``--seed``)."""
    return {"category": category, "prompt": prompt, "profile": profile.name,
            "profile_params": json.dumps(profile.to_dict(), sort_keys=True),
            "integrator_params": json.dumps(config.to_dict(), sort_keys=True),
            "run_seed": "" if run_seed is None else str(run_seed),
            "shots": json.dumps([list(s) for s in shots]), "device": str(device),
            "tvig_version": __version__, "random_weights": str(bool(profile.random_weights))}


def write_set(out: "str | Path", result: IntegrationResult, *, n: int, seed: int, vqgan, clip,
              text_emb: torch.Tensor, shot_emb: torch.Tensor, config: IntegratorConfig,
              meta: dict[str, Any], chunk: int | None = None, progress: bool = True,
              callback: Callable[[str, dict], None] | None = None,
              speed: SpeedConfig | None = None) -> list[dict[str, str]]:
    """Write the n-image set into OUT (resuming); returns the final manifest rows."""
    out = Path(out)
    items = plan_set(kept=len(result.scores), n=n, rounds=config.rounds, origin=result.origin,
                     seed=seed)
    done = finished(out)
    chunk = chunk or config.candidates
    bar = tqdm(total=n, desc="writing set", unit="img", disable=not progress)
    bar.update(sum(1 for it in items if it.file in done))

    def emit(item: SetItem, img: torch.Tensor, scores: dict[str, float]) -> None:
        save_png(img, out / IMAGES_DIR / item.file)
        atomic.append_csv_rows(out / MANIFEST, [_row(item, scores, meta)])
        bar.update(1)
        if callback is not None:
            callback("image", {"index": item.index, "file": out / IMAGES_DIR / item.file})

    for item in (it for it in items if it.source == "kept"):
        if item.file not in done:
            emit(item, result.images[item.index], result.scores.row(item.index))
    sampled = [it for it in items if it.source == "sampled"]
    for start in range(0, len(sampled), chunk):
        part = sampled[start:start + chunk]
        if all(it.file in done for it in part):
            continue
        imgs = to_uint8(sample_latents(vqgan, result.mu, result.sigma, [it.seed for it in part],
                                       speed))
        x = imgs.float() / 255.0
        mu0 = result.mu0.to(vqgan.device)
        scores, _ = score_images(vqgan, clip, x, text_emb=text_emb, shot_emb=shot_emb, mu0=mu0,
                                 sigma0=result.sigma0.to(mu0.device), config=config,
                                 speed=speed)
        for k, it in enumerate(part):
            if it.file not in done:
                emit(it, x[k], scores.row(k))
    bar.close()
    rows = sorted(finished(out).values(), key=lambda r: int(r["index"]))
    write_manifest(out / MANIFEST, rows)  # in index order, exactly one row per image
    return atomic.read_csv(out / MANIFEST)


def write_manifest(path: "str | Path", rows: Sequence[dict[str, Any]]) -> None:
    """Write the manifest atomically with the standard column order."""
    atomic.write_csv(path, rows, MANIFEST_COLUMNS)
