"""``tvig notebooks run|list|check``: run the tutorial chain with papermill, inspect, check sync.

Example:
    $ tvig notebooks run --sample --profile tiny --out runs/tiny
    $ tvig notebooks run --params workshop.yaml --categories brick
    $ tvig notebooks check --fix
"""

from __future__ import annotations

import argparse
import tempfile

from tvig.tutorial.checks import check_folder, fix_folder
from tvig.tutorial.runner import (
    RunConfig,
    load_params_file,
    make_config,
    plan_run,
    run_notebooks,
)

_RUN_HELP = """Execute the ordered notebooks 01 -> 04 once per class with papermill. Executed
notebooks and artefacts go to OUT/<dataset>/<category>/; a summary (status, seconds, selected
prompt, number of generated images, image AUROC) is printed and saved as OUT/summary.csv and
OUT/summary.md. A failed notebook stops its class's chain; the other classes go on; the exit
code is 1 if anything failed. A --params YAML file takes the same keys as the options
(e.g. `profile: fast`, `categories: [brick]`, `params: {steps: 10}` for extra notebook
parameters); options given on the command line win."""


def _run(args: argparse.Namespace) -> int:
    file_values = load_params_file(args.params) if args.params else {}
    cli = {k: getattr(args, k) for k in ("out", "sample", "data", "dataset", "categories",
                                         "profile", "fallback_tiny", "shots", "seed", "device",
                                         "notebooks", "notebooks_dir")}
    if args.quiet:
        cli["progress"] = False
    result = run_notebooks(make_config(file_values, cli))
    return 0 if result.ok else 1


def _list(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_run(RunConfig(sample=True, out=tmp, notebooks_dir=args.notebooks_dir),
                        log=lambda s: None)
        for src in plan.notebooks:
            params = ", ".join(f"{k}={v}" for k, v in plan.declared[src.stem].items())
            print(f"{src.stem}: {params or '(no parameters cell)'}")
    return 0


def _check(args: argparse.Namespace) -> int:
    if args.fix:
        for line in fix_folder(args.notebooks_dir):
            print(line)
    problems = check_folder(args.notebooks_dir)
    for p in problems:
        print(p)
    print("notebooks OK" if not problems else f"{len(problems)} problem(s); "
          "`tvig notebooks check --fix` repairs outputs, setup cell and .py/.ipynb sync")
    return 1 if problems else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("notebooks", help="run the tutorial notebooks (papermill), list, check")
    nsub = p.add_subparsers(dest="notebooks_command", metavar="ACTION", required=True)

    r = nsub.add_parser("run", help="execute notebooks 01 -> 04 per class", description=_RUN_HELP)
    src = r.add_mutually_exclusive_group()
    src.add_argument("--sample", action="store_true", default=None,
                     help="write the embedded sample classes under OUT/sample-data and use them")
    src.add_argument("--data", metavar="ROOT", help="dataset root in the MVTec AD layout")
    r.add_argument("--dataset", help="mvtec_ad, btad, mvtec_loco, sample or folder; also names "
                   "OUT/<dataset>/ (default: sample, ROOT's name when it is one of these, else "
                   "folder)")
    r.add_argument("--categories", nargs="+", metavar="CLASS",
                   help="classes to run (default: brick metal_nut with --sample, all in ROOT)")
    r.add_argument("--profile", help="paper | fast | tiny (default tiny)")
    r.add_argument("--fallback-tiny", action="store_true", default=None,
                   help="if the profile's weights are not cached, use tiny (random weights) loudly")
    r.add_argument("--shots", type=int, help="real non-defective shots per class (default 1)")
    r.add_argument("--seed", type=int, help="random seed (default 0)")
    r.add_argument("--device", help="cuda | cpu | auto, for notebooks with a `device` parameter")
    r.add_argument("--out", help="output folder (default runs/notebooks)")
    r.add_argument("--params", metavar="FILE.yaml", help="YAML file with any of these options")
    r.add_argument("--notebooks", nargs="+", metavar="NN", help="which notebooks, e.g. 01 02")
    r.add_argument("--notebooks-dir", help="folder with the notebooks (default: repo notebooks/)")
    r.add_argument("--quiet", action="store_true", help="no per-cell progress bars")
    r.set_defaults(func=_run)

    ls = nsub.add_parser("list", help="the notebooks found and their parameters")
    ls.add_argument("--notebooks-dir", default=None)
    ls.set_defaults(func=_list)

    c = nsub.add_parser("check", help="committed notebooks: no outputs, in sync, setup + parameters cell")
    c.add_argument("--notebooks-dir", default=None)
    c.add_argument("--fix", action="store_true",
                   help="strip outputs, insert the standard setup cell, re-sync .ipynb from .py")
    c.set_defaults(func=_check)
