"""``tvig docs build --out site``: build the documentation site offline (MkDocs).

Example:
    $ tvig docs build --out site
    $ tvig docs build --out site --executed runs/demo/sample/brick   # reuse an executed chain
"""

from __future__ import annotations

import argparse

from tvig.tutorial.docs import build_site


def _build(args: argparse.Namespace) -> int:
    build_site(args.out, work=args.work, notebooks_dir=args.notebooks_dir, executed=args.executed,
               execute=not args.no_execute, category=args.category)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("docs", help="build the documentation site (offline)")
    dsub = p.add_subparsers(dest="docs_command", metavar="ACTION", required=True)
    b = dsub.add_parser("build", help="execute the notebooks with tiny, then build the site",
                        description="Execute the notebooks with the tiny profile (random weights) "
                        "on one sample class, then build docs/ + method figure + CLI and API "
                        "reference + the executed notebooks into OUT with MkDocs. No network.")
    b.add_argument("--out", default="site", help="site folder (default: site)")
    b.add_argument("--work", default=None, help="build folder (default: OUT-build)")
    b.add_argument("--notebooks-dir", default=None, help="notebooks folder (default: repo notebooks/)")
    b.add_argument("--executed", default=None, metavar="DIR",
                   help="use notebooks already executed in DIR (e.g. runs/demo/sample/brick)")
    b.add_argument("--no-execute", action="store_true", help="render the notebooks without outputs")
    b.add_argument("--category", default="brick", help="sample class of the tiny run (default brick)")
    b.set_defaults(func=_build)
