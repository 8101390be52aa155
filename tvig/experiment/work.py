"""Running one unit: a pure function of its inputs, written atomically, skipped when done.

A unit works in ``OUT/units/<kind>/<fp>.partial/`` (its process id in ``worker.pid``) and
finishes by writing ``unit.json`` there and renaming the folder to ``<fp>/``: a folder named
by a fingerprint is complete or absent. A generation resumes its partial set (the writer
skips finished images, so the set is the same as an uninterrupted one); the other kinds
start again. A :class:`TvigError` leaves ``error.txt`` in the partial folder (status: failed).

Example:
    >>> run_unit(unit, "runs/exp")            # doctest: +SKIP
    {'kind': 'detect', 'fp': '...', 'status': 'done', 'seconds': 2.1}
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from tvig import atomic
from tvig.detection.datasets import choose_files, validate_class
from tvig.detection.provenance import check_generated_shots
from tvig.detection.run import run_detection
from tvig.errors import TvigError
from tvig.experiment.units import Unit, unit_dir
from tvig.images import link_files
from tvig.models.clip import load_clip
from tvig.pipeline import generate
from tvig.prompting.ranking import select_prompt
from tvig.seeding import resolve_device

UNIT_JSON, PID_FILE, ERROR_FILE = "unit.json", "worker.pid", "error.txt"


def is_done(out: "str | os.PathLike[str]", unit: Unit) -> bool:
    return (unit_dir(out, unit) / UNIT_JSON).is_file()


def partial_dir(out: "str | os.PathLike[str]", unit: Unit) -> Path:
    final = unit_dir(out, unit)
    return final.with_name(final.name + ".partial")


def read_unit(out: "str | os.PathLike[str]", unit_kind: str, fp: str) -> dict[str, Any]:
    return json.loads((Path(out) / "units" / unit_kind / fp / UNIT_JSON).read_text())


def _quiet(msg: str) -> None:
    pass


def _shots(unit: Unit, out: Path, work: Path) -> dict[str, Any]:
    i = unit.inputs
    layout = validate_class(unit.context["class_root"])
    files = link_files(choose_files(layout.train_images(), i["k"], i["seed"]), work / "shots")
    return {"files": [f.name for f in files]}


def _shot_files(out: Path, shots_fp: str) -> list[Path]:
    names = read_unit(out, "shots", shots_fp)["result"]["files"]
    return [Path(out) / "units" / "shots" / shots_fp / "shots" / n for n in names]


def _prompt(unit: Unit, out: Path, work: Path) -> dict[str, Any]:
    i = unit.inputs
    if i["prompt"]:
        return {"prompt": i["prompt"], "source": "given"}
    clip = load_clip(unit.context["profile"], resolve_device(unit.context["device"]))
    sel = select_prompt(i["category"], _shot_files(out, i["shots"]), clip,
                        profile=unit.context["profile"])
    sel.save(work)
    return {"prompt": sel.prompt, "source": "WordNet + CLIP"}


def _generated(unit: Unit, out: Path, work: Path) -> dict[str, Any]:
    i = unit.inputs
    prompt = read_unit(out, "prompt", i["prompt"])["result"]["prompt"]
    res = generate(_shot_files(out, i["shots"]), i["category"], work / "set",
                   profile=unit.context["profile"], n=i["n"], seed=i["seed"],
                   device=unit.context["device"], prompt=prompt, report=True,
                   progress=False, log=_quiet)
    rep = json.loads((work / "set" / "report.json").read_text())
    return {"prompt": prompt, "n_images": len(res.rows),
            "similarity": rep.get("mean_similarity"), "diversity": rep.get("diversity")}


def _detect(unit: Unit, out: Path, work: Path) -> dict[str, Any]:
    i, ctx = unit.inputs, unit.context
    cfg = ctx["config"]
    if "n_augment" in i:
        cfg = cfg.replace(n_augment=i["n_augment"])
    gen_dir, gen = None, {}
    if i["train_set"] == "generated":
        gen_dir = Path(out) / "units" / "generated" / i["generated"] / "set"
        check_generated_shots(gen_dir, _shot_files(out, i["shots"]))  # from exactly these
        gen = read_unit(out, "generated", i["generated"])["result"]
    extra = dict(profile=ctx["profile_name"], overrides=json.dumps(ctx["overrides"],
                                                                   sort_keys=True),
                 data=ctx["data_root"], generated_unit=i.get("generated", ""),
                 similarity=gen.get("similarity", ""), diversity=gen.get("diversity", ""),
                 unit=unit.fp)
    row = run_detection(cfg, ctx["data_root"], i["category"], i["k"], i["seed"], i["model"],
                        i["train_set"], out_dir=work, dataset=i["dataset"],
                        generated_dir=gen_dir, results_csv=work / "row.csv", extra=extra,
                        log=_quiet)
    return {"row": row}


RUNNERS = {"shots": _shots, "prompt": _prompt, "generated": _generated, "detect": _detect}


def run_unit(unit: Unit, out: "str | os.PathLike[str]", threads: int = 1) -> dict[str, Any]:
    """Make ``unit`` unless it is complete; returns {kind, fp, status, seconds[, error]}.

    ``threads``: torch CPU threads, the same for every executor (float sums depend on it,
    so a unit gives the same bytes serially and on Ray).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:  # the caller's thread count is restored: a library must not change it for good
        return _run_unit(unit, Path(out))
    finally:
        torch.set_num_threads(before)


def _run_unit(unit: Unit, out: Path) -> dict[str, Any]:
    final, work = unit_dir(out, unit), partial_dir(out, unit)
    if is_done(out, unit):
        return {"kind": unit.kind, "fp": unit.fp, "status": "skipped", "seconds": 0.0}
    if unit.kind != "generated" and work.exists():
        shutil.rmtree(work)  # a half-made detection starts again; a generated set resumes
    work.mkdir(parents=True, exist_ok=True)
    (work / ERROR_FILE).unlink(missing_ok=True)
    atomic.write_text(work / PID_FILE, f"{os.getpid()}\n")
    t0 = time.perf_counter()
    try:
        result = RUNNERS[unit.kind](unit, out, work)
    except TvigError as e:
        atomic.write_text(work / ERROR_FILE, f"{type(e).__name__}: {e}\n")
        return {"kind": unit.kind, "fp": unit.fp, "status": "failed", "error": str(e),
                "seconds": time.perf_counter() - t0}
    seconds = time.perf_counter() - t0
    atomic.write_json(work / UNIT_JSON, {"kind": unit.kind, "fp": unit.fp,
                                         "inputs": unit.inputs, "result": result,
                                         "seconds": round(seconds, 2)})
    (work / PID_FILE).unlink(missing_ok=True)
    try:
        os.rename(work, final)
    except OSError:  # another worker finished the same unit first: keep its folder
        if not is_done(out, unit):
            raise
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    return {"kind": unit.kind, "fp": unit.fp, "status": "done", "seconds": seconds}


def unit_state(out: "str | os.PathLike[str]", unit: Unit) -> str:
    """done, failed (error.txt), running (a partial folder) or todo."""
    if is_done(out, unit):
        return "done"
    work = partial_dir(out, unit)
    if (work / ERROR_FILE).is_file():
        return "failed"
    return "running" if work.is_dir() else "todo"


__all__ = ["run_unit", "is_done", "unit_state", "read_unit", "partial_dir", "UNIT_JSON",
           "PID_FILE"]
