"""``tvig sample-data OUT``: write the embedded sample classes (MVTec AD layout)."""

from __future__ import annotations

import argparse

from tvig.detection.sample_data import SAMPLE_CLASSES, write_sample_data


def _run(args: argparse.Namespace) -> int:
    folders = write_sample_data(args.out, args.classes, seed=args.seed, size=args.size)
    for f in folders:
        c = SAMPLE_CLASSES[f.name]
        print(f"{f}  ({c.kind}: {c.description}; defects: {', '.join(c.defects)})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample-data", help="write embedded sample classes (no network)")
    p.add_argument("out", help="folder to write the classes into")
    p.add_argument("--classes", nargs="+", choices=sorted(SAMPLE_CLASSES), default=None,
                   help="which classes (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=128, help="image side in px (default 128)")
    p.set_defaults(func=_run)
