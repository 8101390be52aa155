"""Headline metrics read from a run folder, and the summary files."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tvig import atomic
from tvig.cli import build_parser
from tvig.tutorial.summary import SummaryRow, class_row, headline_metrics, write_summary

REPO = Path(__file__).resolve().parents[1]


def test_headline_metrics(tmp_path):
    assert headline_metrics(tmp_path) == {"prompt": "", "n_generated": "", "image_auroc": ""}
    (tmp_path / "prompt.json").write_text(json.dumps({"prompt": "a photo of a nut", "ranking": []}))
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "manifest.csv").write_text("file\na.png\nb.png\n")
    atomic.append_csv_rows(tmp_path / "detection" / "results.csv", [
        {"train_set": "real", "image_auroc": 0.8, "pixel_auroc": 0.1},
        {"train_set": "real", "image_auroc": 0.6, "pixel_auroc": 0.2},
        {"train_set": "generated", "image_auroc": 0.9, "pixel_auroc": 0.3}])
    assert headline_metrics(tmp_path) == {"prompt": "a photo of a nut", "n_generated": "2",
                                          "image_auroc": "real 0.700, generated 0.900"}


def test_summary_files_and_class_row(tmp_path):
    rows = [SummaryRow("sample", "brick", "01_x", "ok", 1.25), SummaryRow("sample", "brick", "02_y",
                                                                           "failed", 2.0, error="a|b")]
    head = class_row("sample", "brick", rows, tmp_path)
    assert (head.status, head.seconds) == ("failed", 3.2)
    csv_path, md = write_summary(tmp_path, rows + [head], note="note")
    assert csv_path.read_text().count("\n") == 4
    assert "a/b" in md.read_text() and "note" in md.read_text()  # '|' cannot break the table


def test_make_demo_command_parses():
    args = build_parser().parse_args(["notebooks", "run", "--sample", "--profile", "paper",
                                      "--fallback-tiny", "--out", "runs/demo"])
    assert (args.sample, args.profile, args.fallback_tiny, args.out) == (True, "paper", True, "runs/demo")
    assert "tvig notebooks run --sample --profile paper --fallback-tiny --out runs/demo" in \
        (REPO / "Makefile").read_text()


def test_gpu_script_passes_the_chain_options(tmp_path):
    script = REPO / "scripts" / "gpu_run.sh"
    res = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert res.returncode == 2 and "DATA_ROOT" in res.stdout
    res = subprocess.run(["bash", str(script), "/data/mvtec", "bottle", "screw", "--", "--params", "g.yaml"],
                         capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "TVIG": "echo tvig", "OUT": str(tmp_path / "o")})
    assert res.returncode == 0, res.stderr
    assert ("tvig notebooks run --data /data/mvtec --dataset mvtec_ad --categories bottle screw "
            "--profile paper --shots 1 --seed 0 --device cuda --out " + str(tmp_path / "o") +
            " --params g.yaml") in res.stdout
