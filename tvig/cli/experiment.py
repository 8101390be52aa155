"""``tvig experiment run|status|report``: the paper's protocol as resumable units.

Examples:
    $ tvig experiment run --categories brick --shots 1 --seeds 0 1 --profile tiny \\
          --out runs/exp --dry-run
    $ tvig experiment run --config experiment.yaml --executor ray --gpus-per-detect 0.5
    $ tvig experiment run --config experiment.yaml --executor ray --address 10.0.0.1:6379
    $ tvig experiment status --config experiment.yaml
    $ tvig experiment report --config experiment.yaml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tvig.experiment.executors import EXECUTORS, Resources, run_units
from tvig.experiment.report import write_report
from tvig.experiment.results import status, write_results
from tvig.experiment.spec import ExperimentSpec
from tvig.experiment.units import plan
from tvig.profiles import RANDOM_WEIGHTS_BANNER

SPEC_FILE = "experiment.json"


def _spec(args: argparse.Namespace) -> ExperimentSpec:
    flags = dict(dataset=args.dataset, data=args.data, categories=args.categories,
                 shots=args.shots, seeds=args.seeds, models=args.models,
                 train_sets=args.train_sets, profile=args.profile,
                 overrides=json.loads(args.overrides) if args.overrides else None,
                 image_size=args.image_size, n_images=args.n_images, prompt=args.prompt,
                 device=args.device, gen_device=args.gen_device, n_augment=args.n_augment,
                 epochs=args.epochs, download=args.download or None)
    if args.config:
        return ExperimentSpec.from_yaml(args.config, **flags)
    return ExperimentSpec.from_mapping({k: v for k, v in flags.items() if v is not None})


def _run(args: argparse.Namespace) -> int:
    spec = _spec(args)
    resources = Resources(cpus_per_unit=args.cpus_per_unit,
                          gpus_per_generate=args.gpus_per_generate,
                          gpus_per_detect=args.gpus_per_detect, retries=args.retries)
    if spec.profile.random_weights:
        print(RANDOM_WEIGHTS_BANNER)
    units = plan(spec, args.out)
    counts = {k: sum(u.kind == k for u in units) for k in dict.fromkeys(u.kind for u in units)}
    print(f"{len(units)} units: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    if args.dry_run:
        for u in units:
            print(f"  {u.fp}  {u.label}")
        return 0
    results = run_units(units, args.out, executor=args.executor, address=args.address,
                        resources=resources, num_cpus=args.num_cpus,
                        progress=not args.quiet, on_done=lambda: write_results(units, args.out))
    failed = [r for r in results if r["status"] == "failed"]
    for r in failed[:10]:
        print(f"failed: {r['kind']} {r['fp']}: {r['error']}")
    print(f"ran {sum(r['status'] == 'done' for r in results)} units, {len(failed)} failed, "
          f"{len(units) - len(results)} already done; results: {Path(args.out) / 'results.csv'}")
    return 1 if failed else 0


def _status(args: argparse.Namespace) -> int:
    units = plan(_spec(args), args.out)
    for kind, c in status(units, args.out).items():
        print(f"{kind:10s} " + "  ".join(f"{s} {n}" for s, n in c.items()))
    return 0


def _report(args: argparse.Namespace) -> int:
    units = plan(_spec(args), args.out)
    csv = write_results(units, args.out)
    paths = write_report(csv, Path(args.out) / "report")
    for p in paths.values():
        print(f"wrote {p}")
    return 0


def _grid_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="YAML", help="experiment file (flags given win)")
    p.add_argument("--out", default="runs/experiment", help="output folder (shared on a cluster)")
    p.add_argument("--dataset", help="mvtec_ad, btad, mvtec_loco, sample or folder")
    p.add_argument("--data", metavar="ROOT", help="dataset root ('sample' = embedded classes)")
    p.add_argument("--categories", nargs="+")
    p.add_argument("--shots", nargs="+", help="k values: 1 5 all")
    p.add_argument("--seeds", nargs="+", type=int)
    p.add_argument("--models", nargs="+")
    p.add_argument("--train-sets", nargs="+", help="real generated augmented")
    p.add_argument("--profile", help="paper, fast or tiny (generation; default fast)")
    p.add_argument("--overrides", metavar="JSON", help='profile overrides, e.g. \'{"steps": 5}\'')
    p.add_argument("--image-size", type=int, help="detection image size (default: profile's)")
    p.add_argument("--n-images", type=int, help="generated images per run")
    p.add_argument("--n-augment", type=int, help="control images (default: as many as (b))")
    p.add_argument("--epochs", type=int)
    p.add_argument("--prompt", help="a fixed prompt instead of WordNet + CLIP per run")
    p.add_argument("--device", help="detection: cpu, cuda (= gpu) or auto")
    p.add_argument("--gen-device", help="generation: cpu, cuda or auto (default auto)")
    p.add_argument("--download", action="store_true", help="let anomalib download the data")


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("experiment", help="the paper's experiment: units, resumable, serial or "
                       "on Ray", description="shots -> prompt -> generated (from exactly those "
                       "shots) -> detect(model, train set), each unit in a folder named by a "
                       "fingerprint of all its inputs; a rerun resumes.")
    esub = e.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = esub.add_parser("run", help="run every unit not yet done")
    _grid_flags(r)
    r.add_argument("--dry-run", action="store_true", help="list the units and their count")
    r.add_argument("--executor", default="serial", help=f"{' | '.join(EXECUTORS)}")
    r.add_argument("--address", metavar="HOST:PORT", help="a Ray cluster (ray start --head)")
    r.add_argument("--num-cpus", type=int, help="CPUs of a local Ray instance")
    r.add_argument("--cpus-per-unit", type=float, default=1.0)
    r.add_argument("--gpus-per-generate", type=float, default=0.0)
    r.add_argument("--gpus-per-detect", type=float, default=0.0)
    r.add_argument("--retries", type=int, default=3, help="Ray retries for a lost worker")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_run)
    s = esub.add_parser("status", help="units done / running / failed / to do, by kind")
    _grid_flags(s)
    s.set_defaults(func=_status)
    p = esub.add_parser("report", help="paper-layout tables, gains and figures (md + csv)")
    _grid_flags(p)
    p.set_defaults(func=_report)
