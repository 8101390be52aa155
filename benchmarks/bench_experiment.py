"""Experiment throughput: units per hour serially vs a local Ray instance with 2 workers, and
the paper grid's unit count and estimated hours from the measured unit costs.

Both executors run the same small experiment (tiny profile, random weights, the embedded
sample classes) into fresh output folders; the wall clock covers the units only (planning and
data hashing excluded, Ray's start-up included). Per-kind unit seconds come from the unit
folders (``unit.json``: the unit's own time, without process start-up).

The full paper grid (DESIGN §5): MVTec AD 15 + BTAD 3 + MVTec LOCO 5 = 23 classes, shots
1 / 5 / all (all: one seed), 5 seeds, 6 detectors, 3 training sets, one shots + prompt +
generated unit per run. Its hours are the unit counts x the measured mean seconds per kind:
on this CPU with random tiny models they say nothing about the paper profile on a GPU; pass
``--unit-seconds '{"generated": 300, "detect": 20}'`` with GPU measurements to re-estimate.

Usage:
    python benchmarks/bench_experiment.py                     # ~4 min on 2 CPU cores
    python benchmarks/bench_experiment.py --classes brick gravel --seeds 0 1 --out runs/bench
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tvig import atomic
from tvig.detection.sample_data import write_sample_data
from tvig.experiment import ExperimentSpec, Resources, plan, run_units
from tvig.experiment.work import read_unit

TINY = {"steps": 2, "rounds": 1, "candidates": 2, "keep": 1, "n_images": 2}
PAPER_GRID = dict(classes=15 + 3 + 5, shots=(1, 5, "all"), seeds=5, detectors=6, train_sets=3)


def paper_grid_units() -> dict[str, int]:
    g = PAPER_GRID
    runs = g["classes"] * sum(1 if k == "all" else g["seeds"] for k in g["shots"])
    return {"shots": runs, "prompt": runs, "generated": runs,
            "detect": runs * g["detectors"] * g["train_sets"]}


def measure(spec: ExperimentSpec, out: Path, executor: str) -> dict:
    units = plan(spec, out)
    t0 = time.perf_counter()
    results = run_units(units, out, executor=executor, num_cpus=2, progress=False,
                        resources=Resources(cpus_per_unit=1))
    wall = time.perf_counter() - t0
    assert all(r["status"] == "done" for r in results), results
    per_kind: dict[str, list[float]] = {}
    for u in units:
        per_kind.setdefault(u.kind, []).append(read_unit(out, u.kind, u.fp)["seconds"])
    return {"executor": executor, "units": len(units), "wall_s": round(wall, 1),
            "units_per_hour": round(len(units) / wall * 3600, 1),
            "unit_seconds": {k: round(statistics.mean(v), 2) for k, v in per_kind.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", nargs="+", default=["brick"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--out", default=None, help="folder for the runs and bench.json")
    ap.add_argument("--unit-seconds", default=None, help="JSON {kind: seconds} to estimate with")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="tvig-bench-exp-"))
    write_sample_data(out / "data")
    spec = ExperimentSpec.from_mapping(dict(
        dataset="folder", data=str(out / "data"), categories=args.classes, shots=[1],
        seeds=args.seeds, profile="tiny", overrides=TINY, prompt="a photo of a product"))
    rows = [measure(spec, out / ex, ex) for ex in ("serial", "ray")]
    ratio = rows[1]["units_per_hour"] / rows[0]["units_per_hour"]
    cost = json.loads(args.unit_seconds) if args.unit_seconds else rows[0]["unit_seconds"]
    counts = paper_grid_units()
    hours = sum(n * cost.get(k, 0.0) for k, n in counts.items()) / 3600
    report = {"runs": rows, "ray_over_serial": round(ratio, 2), "paper_grid_units": counts,
              "paper_grid_total_units": sum(counts.values()),
              "estimate_hours": round(hours, 1),
              "estimate_from": "--unit-seconds" if args.unit_seconds else
              "serial CPU unit costs, tiny profile (random weights): not GPU hours"}
    print(f"{'executor':8s} {'units':>5s} {'wall s':>7s} {'units/h':>8s}  unit seconds by kind")
    for r in rows:
        print(f"{r['executor']:8s} {r['units']:5d} {r['wall_s']:7.1f} {r['units_per_hour']:8.1f}"
              f"  {r['unit_seconds']}")
    print(f"ray (2 workers) / serial: {ratio:.2f}x units per hour")
    print(f"paper grid: {sum(counts.values())} units {counts}; estimated {hours:.1f} h "
          f"({report['estimate_from']})")
    atomic.write_json(out / "bench.json", report)
    print(f"wrote {out / 'bench.json'}")


if __name__ == "__main__":
    main()
