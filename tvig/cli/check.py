"""``tvig check [--profile P] [--json]``: do the profile's weight files do their job?

Runs :func:`tvig.gates.run.run_check` and prints a table (model, file, gate, value, threshold,
pass/fail, seconds); exit 0 only when every gate passes (a backbone that is not cached is a
skipped row, not a failure). The results are recorded beside the assets, so ``tvig assets``
shows them as "checked".
"""

from __future__ import annotations

import argparse
import json
import sys

from tvig.gates.run import format_table, passed, run_check, verdict_line
from tvig.profiles import PROFILES
from tvig.seeding import resolve_device


def _check(args: argparse.Namespace) -> int:
    results = run_check(args.profile, device=resolve_device(args.device),
                        log=(lambda s: None) if args.json else
                        (lambda s: print(s, file=sys.stderr)))
    ok = passed(results)
    if args.json:
        print(json.dumps({"profile": args.profile, "passed": ok,
                          "gates": [r.to_dict() for r in results]}, indent=2))
    else:
        print(format_table(results))
        print(verdict_line(results))
    return 0 if ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="functional gates: do the profile's weights do their job?",
                       description="Load the profile's CLIP and VQGAN and test them on photos "
                       "bundled with scikit-image: CLIP zero-shot top-1, VQGAN reconstruction "
                       "PSNR, cached timm backbones' ImageNet top-5, and a few guidance steps. "
                       "Exit 0 only if every gate passes; results are recorded beside the "
                       "assets (tvig assets shows them).")
    p.add_argument("--profile", default="paper", choices=sorted(PROFILES))
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_check)
