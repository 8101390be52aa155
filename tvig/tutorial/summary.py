"""The summary of a notebook run: one row per (class, notebook) plus one headline row per class.

Headline metrics are read from the class's run folder (:class:`tvig.paths.RunPaths`) when the
files exist: the selected prompt (``prompt.json``), the number of generated images
(``generated/manifest.csv``) and the image AUROC (``detection/results.csv``, averaged per
training setting when the table has one).

Example:
    >>> rows = [SummaryRow("sample", "brick", "01_prompting", "ok", 1.5)]
    >>> print(format_table(rows).splitlines()[0])  # doctest: +NORMALIZE_WHITESPACE
    | dataset | category | notebook | status | seconds | prompt | n_generated | image_auroc | error |
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from tvig import atomic
from tvig.paths import RunPaths


@dataclass
class SummaryRow:
    dataset: str
    category: str
    notebook: str  # a notebook stem, or "all" for the class's headline row
    status: str  # ok | failed | skipped (an earlier notebook of the class failed)
    seconds: float
    prompt: str = ""
    n_generated: str = ""
    image_auroc: str = ""
    error: str = ""


def _image_auroc(results_csv: Path) -> str:
    """Mean image AUROC per train set of a ``tvig.detection.run`` results CSV: 'real 0.750, ...'."""
    values: dict[str, list[float]] = defaultdict(list)
    for r in atomic.read_csv(results_csv):
        try:
            values[r["train_set"]].append(float(r["image_auroc"]))
        except (KeyError, TypeError, ValueError):
            continue
    return ", ".join(f"{k} {sum(v) / len(v):.3f}" for k, v in values.items() if v)


def headline_metrics(run_root: "str | Path") -> dict[str, str]:
    """``prompt``, ``n_generated``, ``image_auroc`` read from a run folder ('' when absent)."""
    rp = RunPaths(run_root)
    out = {"prompt": "", "n_generated": "", "image_auroc": ""}
    if rp.prompt_json.exists():
        try:
            out["prompt"] = str(json.loads(rp.prompt_json.read_text()).get("prompt", ""))
        except (json.JSONDecodeError, AttributeError):
            out["prompt"] = "(unreadable prompt.json)"
    manifest = rp.generated_dir / "manifest.csv"
    if manifest.exists():
        out["n_generated"] = str(len(atomic.read_csv(manifest)))
    out["image_auroc"] = _image_auroc(rp.detection_dir / "results.csv")
    return out


def class_row(dataset: str, category: str, rows: list[SummaryRow], run_root: Path) -> SummaryRow:
    """The headline row of one class: overall status, total seconds, metrics from its folder."""
    status = "ok" if rows and all(r.status == "ok" for r in rows) else "failed"
    return SummaryRow(dataset, category, "all", status, round(sum(r.seconds for r in rows), 1),
                      **headline_metrics(run_root))


def _cells(row: SummaryRow) -> list[str]:
    return [str(v).replace("|", "/").replace("\n", " ") for v in asdict(row).values()]


def format_table(rows: list[SummaryRow]) -> str:
    """A markdown table of the rows (readable in a terminal too)."""
    head = [f.name for f in fields(SummaryRow)]
    body = [_cells(r) for r in rows]
    width = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, width)) + " |"  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in width])] + [line(b) for b in body])


def write_summary(out: "str | Path", rows: list[SummaryRow], note: str = "") -> tuple[Path, Path]:
    """Write ``OUT/summary.csv`` and ``OUT/summary.md`` atomically; returns both paths."""
    out = Path(out)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[f.name for f in fields(SummaryRow)], lineterminator="\n")
    w.writeheader()
    w.writerows(asdict(r) for r in rows)
    atomic.write_text(out / "summary.csv", buf.getvalue())
    md = "# tvig notebook run\n\n" + (f"{note}\n\n" if note else "") + format_table(rows) + "\n"
    atomic.write_text(out / "summary.md", md)
    return out / "summary.csv", out / "summary.md"
