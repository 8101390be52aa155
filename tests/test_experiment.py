"""The experiment as units: plan, fingerprints, resume, exact reruns, shots provenance, Ray."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tvig import atomic
from tvig.cli import main
from tvig.detection.provenance import generated_shots, sha256_file
from tvig.experiment import (
    ExperimentSpec,
    collect_rows,
    plan,
    run_units,
    status,
    write_results,
)
from tvig.experiment.work import PID_FILE, read_unit

TINY = {"steps": 2, "rounds": 1, "candidates": 2, "keep": 1, "n_images": 2}
BASE = dict(categories=["brick"], shots=[1], seeds=[0], profile="tiny", overrides=TINY,
            prompt="a photo of a brick")  # a given prompt: no WordNet load per process
CHANGING = ("seconds", "data", "unit", "generated_unit")  # differ between output folders


def spec(root: Path | None = None, **changes) -> ExperimentSpec:
    d = {**BASE, **changes}
    if root is not None:
        d.update(dataset="folder", data=str(root))
    return ExperimentSpec.from_mapping(d)


def fps(units, kind=None) -> set[str]:
    return {u.fp for u in units if kind is None or u.kind == kind}


def same_rows(rows) -> list[tuple]:
    keys = [(r["category"], r["k"], r["seed"], r["model"], r["train_set"]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicated result row"
    return sorted(tuple(v for k, v in r.items() if k not in CHANGING) for r in rows)


@pytest.fixture(scope="module")
def serial(sample_root, tmp_path_factory):
    """One run (brick, k=1, seed 0) x 3 train sets, serially: the reference rows."""
    out = tmp_path_factory.mktemp("exp") / "serial"
    s = spec(sample_root)
    units = plan(s, out)
    run_units(units, out, progress=False)
    write_results(units, out)
    return s, out, atomic.read_csv(out / "results.csv")


def test_plan_counts_and_exactly_affected_units(sample_root, tmp_path):
    s = spec(sample_root, categories=["brick", "gravel"], seeds=[0, 1])
    units = plan(s, tmp_path)
    assert [sum(u.kind == k for u in units) for k in ("shots", "prompt", "generated", "detect")] \
        == [4, 4, 4, 12]
    pos = {u.fp: i for i, u in enumerate(units)}
    assert all(pos[d] < pos[u.fp] for u in units for d in u.deps)  # dependency order
    # the image size: exactly the 12 detections
    assert fps(units) - fps(plan(spec(sample_root, categories=["brick", "gravel"], seeds=[0, 1],
                                      image_size=96), tmp_path)) == fps(units, "detect")
    # the generated set (another optimiser budget): generations and their detections only
    other = plan(spec(sample_root, categories=["brick", "gravel"], seeds=[0, 1],
                      overrides={**TINY, "steps": 3}), tmp_path)
    changed = {u.label for u in units if u.fp in fps(units) - fps(other)}
    assert changed == {u.label for u in units
                       if u.kind == "generated" or u.label.endswith(" generated")}
    # the data: one changed test image of gravel reruns gravel's detections only
    root = tmp_path / "data"
    shutil.copytree(sample_root, root)
    moved = plan(spec(root, categories=["brick", "gravel"], seeds=[0, 1]), tmp_path)
    assert not fps(units) & fps(moved)  # another data root: every unit
    img = next((root / "gravel" / "test" / "good").iterdir())
    img.write_bytes(img.read_bytes() + b"\0")
    edited = plan(spec(root, categories=["brick", "gravel"], seeds=[0, 1]), tmp_path)
    assert {u.label for u in moved if u.fp not in fps(edited)} == \
        {u.label for u in moved if u.kind == "detect" and " gravel " in u.label}


def test_dry_run_prints_the_unit_count(sample_root, tmp_path, capsys):
    rc = main(["experiment", "run", "--data", str(sample_root), "--dataset", "folder",
               "--categories", "brick", "metal_nut", "--shots", "1", "--seeds", "0", "1",
               "--profile", "tiny", "--out", str(tmp_path / "x"), "--dry-run"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "24 units: 4 shots, 4 prompt, 4 generated, 12 detect" in out
    assert not (tmp_path / "x" / "units").exists()


def test_serial_rows_resume_and_exact_reruns(serial, tmp_path):
    s, out, rows = serial
    assert [r["train_set"] for r in rows] == ["real", "generated", "augmented"]
    assert rows[1]["n_generated"] == "2" and rows[2]["n_augmented"] == "2"
    assert rows[1]["similarity"] and rows[1]["diversity"]  # the set's report, per run
    units = plan(s, out)
    assert run_units(units, out, progress=False) == []  # everything done: nothing runs
    assert status(units, out)["detect"] == {"done": 3, "running": 0, "failed": 0, "todo": 0}
    # another image size: exactly the three detections run, and the table has only them
    bigger = plan(ExperimentSpec.from_mapping({**BASE, "dataset": "folder",
                                               "data": s.data_root, "image_size": 96}), out)
    ran = run_units(bigger, out, progress=False)
    assert sorted(r["kind"] for r in ran) == ["detect"] * 3
    new = collect_rows(bigger, out)
    assert {r["image_size"] for r in new} == {96} and len(new) == 3
    assert len(collect_rows(units, out)) == 3  # the old rows stay in their own folders


def test_generated_set_names_exactly_its_runs_shots(serial):
    s, out, _ = serial
    for u in plan(s, out):
        if u.kind == "generated":
            shots_dir = out / "units" / "shots" / u.inputs["shots"] / "shots"
            ours = sorted(sha256_file(f) for f in shots_dir.iterdir())
            named = generated_shots(out / "units" / "generated" / u.fp / "set")
            assert sorted(h for _, h in named) == ours and len(ours) == 1


def test_detect_refuses_a_set_from_other_shots(sample_root, tmp_path, capsys):
    gen = tmp_path / "gen"
    (gen / "images").mkdir(parents=True)
    shutil.copy(sample_root / "brick" / "train" / "good" / "000.png", gen / "images" / "a.png")
    other = sample_root / "brick" / "train" / "good" / "007.png"
    atomic.write_csv(gen / "manifest.csv", [{"file": "a.png", "shots": json.dumps(
        [["007.png", sha256_file(other)], ["001.png", "0" * 64]])}])
    argv = ["detect", "--data", str(sample_root), "--dataset", "folder", "--category", "brick",
            "--shots", "1", "--seeds", "0", "--profile", "tiny", "--generated", str(gen),
            "--out", str(tmp_path / "det")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "made from shots 007.png, 001.png" in err[0]
    assert "this run's shots are" in err[0] and "--allow-other-shots" in err[0]
    assert not (tmp_path / "det" / "results.csv").exists()
    assert main(argv + ["--allow-other-shots"]) == 0
    rows = atomic.read_csv(tmp_path / "det" / "results.csv")
    assert [r["generated_shots"] for r in rows] == ["", "other (allowed)"]


def test_report_tables_and_figures(serial, tmp_path):
    from tvig.experiment.report import write_report

    _, out, _ = serial
    paths = write_report(out / "results.csv", tmp_path / "report")
    md = paths["markdown"].read_text()
    assert "| patchcore_r18 | paper (mvtec_ad) |  | 0.839 (15 classes) |" in md
    assert "| patchcore_r18 | real |" in md and "gain_control_mean" in md
    assert paths["quality_figure"].stat().st_size > 1000
    table = atomic.read_csv(paths["table_folder_k1"])
    assert [r["train set"] for r in table] == ["real", "generated", "augmented",
                                               "paper (mvtec_ad)"]


# ----------------------------------------------------------------- Ray (slow: several processes)

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exp(out: Path, root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tvig", "experiment", "run", "--data", str(root), "--dataset",
            "folder", "--categories", "brick", "--shots", "1", "--seeds", "0", "--profile",
            "tiny", "--overrides", json.dumps(TINY), "--prompt", BASE["prompt"], "--out",
            str(out), "--quiet", *extra]


@pytest.mark.slow
def test_local_ray_gives_the_serial_rows(serial, sample_root, tmp_path):
    _, _, ref = serial
    r = subprocess.run(_exp(tmp_path / "ray", sample_root, "--executor", "ray", "--num-cpus",
                            "2"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert same_rows(atomic.read_csv(tmp_path / "ray" / "results.csv")) == same_rows(ref)
    assert len(list((tmp_path / "ray" / ".tvig-shared-check").glob("*.token"))) == 2


@pytest.mark.slow
def test_ray_cluster_address_and_a_killed_worker(serial, sample_root, tmp_path):
    """ray start --head on 127.0.0.1, the driver with --address; the generation's worker is
    killed by PID mid-unit: Ray retries it and the rows are the serial ones."""
    from tvig.experiment.executors import ray_env

    _, _, ref = serial
    env = {**os.environ, **ray_env()}
    port, rt = _free_port(), Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    ray_bin = Path(sys.executable).parent / "ray"
    head = subprocess.run([str(ray_bin), "start", "--head", f"--port={port}", "--num-cpus=2",
                           "--include-dashboard=false", "--disable-usage-stats",
                           "--object-store-memory=200000000", "--node-ip-address=127.0.0.1",
                           f"--temp-dir={rt}"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert head.returncode == 0, head.stderr[-2000:]
    before = set(_ray_pids(rt))
    try:
        out = tmp_path / "cluster"
        p = subprocess.Popen(_exp(out, sample_root, "--executor", "ray", "--address",
                                  f"127.0.0.1:{port}"), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        gen = out / "units" / "generated"
        deadline, pid = time.monotonic() + 300, None
        while pid is None and time.monotonic() < deadline and p.poll() is None:
            pids = list(gen.glob(f"*.partial/{PID_FILE}")) if gen.is_dir() else []
            pid = int(pids[0].read_text()) if pids else None
            time.sleep(0.05)
        assert pid is not None, "the generation never started"
        os.kill(pid, signal.SIGKILL)
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        assert same_rows(atomic.read_csv(out / "results.csv")) == same_rows(ref)
        unit = next(gen.iterdir())
        assert read_unit(out, "generated", unit.name)["result"]["n_images"] == 2
    finally:
        for pid in set(_ray_pids(rt)) | before:  # only this test's Ray processes
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _ray_pids(temp_dir: Path) -> list[int]:
    """Processes whose command line names this test's Ray temp folder."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(temp_dir) in cmd and int(d.name) != os.getpid():
                pids.append(int(d.name))
    return pids


@pytest.mark.slow
def test_killed_driver_resumes_without_duplicates(serial, sample_root, tmp_path):
    _, _, ref = serial
    out = tmp_path / "killed"
    p = subprocess.Popen(_exp(out, sample_root), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    det = out / "units" / "detect"
    deadline = time.monotonic() + 300
    while p.poll() is None and time.monotonic() < deadline and not (
            det.is_dir() and any((d / "unit.json").is_file() for d in det.iterdir())):
        time.sleep(0.02)
    assert p.poll() is None, "the run ended before it could be killed"
    p.kill()
    p.wait()
    r = subprocess.run(_exp(out, sample_root), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "already done" in r.stdout
    assert same_rows(atomic.read_csv(out / "results.csv")) == same_rows(ref)
