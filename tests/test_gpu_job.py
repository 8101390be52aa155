"""The GPU job cannot run here (no GPU): check that its files are well-formed and call the
script that does the work (issue 14)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_the_gpu_workflow_parses_and_calls_the_check_script():
    wf = yaml.safe_load((REPO / ".github" / "workflows" / "gpu.yml").read_text())
    job = wf["jobs"]["gpu-check"]
    assert "gpu" in job["runs-on"] and "self-hosted" in job["runs-on"]
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "scripts/gpu_check.sh" in runs and "scripts/setup.sh" in runs


def test_the_gpu_check_script_is_valid_bash_and_runs_the_three_checks():
    script = REPO / "scripts" / "gpu_check.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    for part in ("benchmarks/bench_speed.py", "benchmarks/bench_memory.py", "notebooks run"):
        assert part in text
