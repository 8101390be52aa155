"""``tvig augmentations``: what a class's status-consistent augmentations allow, and why."""

from __future__ import annotations

import argparse
import json

from tvig.augmentations import rules_for


def _run(args: argparse.Namespace) -> int:
    rules = rules_for(args.category, args.dataset, path=args.file)
    print(json.dumps(rules.to_dict(), indent=2) if args.json else rules.describe())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "augmentations", help="show the status-consistent augmentations of a class",
        description="The transforms a class allows (for the generator's sigma_0 and the "
        "augmentation control), from tvig/configs/augmentations.yaml; an unknown class gets the "
        "conservative default (small shifts, mild colour jitter).")
    p.add_argument("--dataset", default=None, help="mvtec_ad | btad | mvtec_loco | sample "
                   "(default: any table that has the class)")
    p.add_argument("--category", required=True, metavar="NAME", help="class, e.g. metal_nut")
    p.add_argument("--file", default=None, metavar="YAML", help="your rules, laid over tvig's")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_run)
