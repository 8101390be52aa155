"""The ``tvig`` command line. Each subcommand lives in its own module of this package.

A module ``tvig/cli/<name>.py`` that defines ``register(subparsers)`` is picked up
automatically; ``register`` adds one or more subparsers and sets ``func=callable(args)``
(returning an exit code). A :class:`tvig.errors.TvigError` is printed as one sentence with
exit code 2; anything else is a bug and keeps its traceback. Ctrl-C (exit 130) and SIGTERM
(exit 143, e.g. a pre-empted job) stop the command cleanly: files already written are complete
(:mod:`tvig.atomic`) and a rerun of the same command resumes.

Example:
    $ tvig sample-data /tmp/samples
    $ tvig assets
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
from typing import Sequence

from tvig import __version__
from tvig.errors import TvigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvig", description="Text-guided variational image generation for industrial "
        "anomaly detection (Lee & Choi, CVPR 2024).")
    parser.add_argument("--version", action="version", version=f"tvig {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into the KeyboardInterrupt path so that cleanup code runs."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        old = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        old = None
    try:
        return int(args.func(args) or 0)
    except TvigError as e:
        print(f"tvig {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        what = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
        print(f"tvig {args.command}: {what}; finished outputs are kept, rerun the same command "
              "to resume", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
