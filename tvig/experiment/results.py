"""The results table, derived from the unit folders of the *current* plan only.

A detect unit's row lives in its folder (``unit.json``); :func:`collect_rows` reads the rows
of the planned units in plan order, so a unit whose inputs changed (another fingerprint) is
never read, and no row is ever duplicated. :func:`write_results` writes ``OUT/results.csv``.

Example:
    >>> rows = collect_rows(units, "runs/exp")          # doctest: +SKIP
    >>> write_results(units, "runs/exp")                # doctest: +SKIP
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Any, Sequence

from tvig import atomic
from tvig.detection.run import RESULT_COLUMNS
from tvig.experiment.units import KINDS, Unit
from tvig.experiment.work import is_done, read_unit, unit_state

EXTRA_COLUMNS = ("profile", "overrides", "data", "generated_unit", "similarity", "diversity",
                 "unit")
COLUMNS = RESULT_COLUMNS + EXTRA_COLUMNS
RESULTS_CSV = "results.csv"


def collect_rows(units: Sequence[Unit], out: "str | os.PathLike[str]") -> list[dict[str, Any]]:
    """Rows of the finished detect units of the plan, in plan order."""
    return [read_unit(out, "detect", u.fp)["result"]["row"] for u in units
            if u.kind == "detect" and is_done(out, u)]


def write_results(units: Sequence[Unit], out: "str | os.PathLike[str]") -> Path:
    """Write ``OUT/results.csv`` (atomically) from the unit folders; returns its path."""
    path = Path(out) / RESULTS_CSV
    atomic.write_csv(path, collect_rows(units, out), COLUMNS)
    return path


def status(units: Sequence[Unit], out: "str | os.PathLike[str]") -> dict[str, dict[str, int]]:
    """{kind: {done, running, failed, todo}} for the plan."""
    table = {k: collections.Counter() for k in KINDS}
    for u in units:
        table[u.kind][unit_state(out, u)] += 1
    return {k: {s: c[s] for s in ("done", "running", "failed", "todo")}
            for k, c in table.items() if sum(c.values())}


__all__ = ["collect_rows", "write_results", "status", "COLUMNS", "RESULTS_CSV"]
