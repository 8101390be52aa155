"""Issue 9, rows 4-7: interrupted runs resume to the same outputs, NaN/Inf stops the run with
its step and saves no image, the same seed gives the same bytes and the manifest remakes an
image, the network guard reaches notebook kernels. (Map: test_robustness.py.)
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tvig import atomic
from tvig.errors import NumericsError
from tvig.integrator.writer import IMAGES_DIR, MANIFEST, STATE_DIR

PROMPT = "a photo of a metal nut"  # given, so no WordNet load in each process
N = 40  # long enough to be caught between the first and the last image


def _gen_cmd(sample_root: Path, out: Path) -> list[str]:
    return ["generate", "--images", str(sample_root / "metal_nut" / "train" / "good"),
            "--category", "metal_nut", "--out", str(out), "--profile", "tiny", "--n", str(N),
            "--seed", "3", "--device", "cpu", "--prompt", PROMPT, "--quiet"]


def _grid_cmd(sample_root: Path, out: Path) -> list[str]:
    return ["detect", "--data", str(sample_root), "--dataset", "sample", "--category",
            "brick", "--shots", "1", "--model", "patchcore_r18",
            "--seeds", "0", "1", "--profile", "tiny", "--out", str(out)]


def _tvig(args: list[str]) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "tvig", *args], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def _interrupt(args: list[str], started, sig: int) -> tuple[int, str]:
    """Start ``tvig args``, wait until ``started()``, send ``sig``; (exit code, stderr)."""
    p = subprocess.Popen([sys.executable, "-m", "tvig", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 500
    while p.poll() is None and not started() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert p.poll() is None, "the run ended before it could be interrupted"
    p.send_signal(sig)
    _, err = p.communicate(timeout=300)
    return p.returncode, err


def _set(out: Path) -> dict[str, bytes]:
    """PNG and manifest bytes of a generated set; checks nothing is partial or duplicated."""
    assert not list(out.rglob(atomic.TMP_PREFIX + "*")), "temp file left behind"
    pngs = sorted((out / IMAGES_DIR).iterdir())
    for p in pngs:
        with Image.open(p) as im:
            im.load()  # a partial PNG fails here
    files = [r["file"] for r in atomic.read_csv(out / MANIFEST)]
    assert len(files) == len(set(files)) == len(pngs) == N
    return {p.name: p.read_bytes() for p in pngs} | {MANIFEST: (out / MANIFEST).read_bytes()}


@pytest.fixture(scope="module")
def reference_set(sample_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "set"
    _tvig(_gen_cmd(sample_root, out))
    return out


# ---- row 4: interruptions --------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_generate_resumes_to_the_uninterrupted_set(sig, sample_root, tmp_path,
                                                          reference_set):
    out = tmp_path / "set"
    images = out / IMAGES_DIR
    rc, err = _interrupt(_gen_cmd(sample_root, out), lambda: any(images.glob("img_*.png")), sig)
    written = sorted(images.glob("img_*.png"))
    assert 1 <= len(written) < N  # really stopped in the middle
    if sig == signal.SIGTERM:
        assert rc == 143 and "Traceback" not in err
        assert err.strip().splitlines()[-1] == (
            "tvig generate: terminated (SIGTERM); finished outputs are kept, rerun the same "
            "command to resume")
        assert not list(out.rglob(atomic.TMP_PREFIX + "*"))  # cleaned up on the way out
    else:
        assert rc == -signal.SIGKILL
    for p in written:  # what is there is complete
        with Image.open(p) as im:
            im.load()
    _tvig(_gen_cmd(sample_root, out))
    assert _set(out) == _set(reference_set)


@pytest.fixture(scope="module")
def reference_grid(sample_root, tmp_path_factory) -> list[dict[str, str]]:
    out = tmp_path_factory.mktemp("grid") / "det"
    _tvig(_grid_cmd(sample_root, out))
    return atomic.read_csv(out / "results.csv")


def _rows(rows: list[dict[str, str]]) -> list[tuple]:
    keys = [tuple(v for k, v in r.items() if k != "seconds") for r in rows]
    assert len(keys) == len({tuple(r[k] for k in ("category", "model", "k", "seed", "train_set"))
                             for r in rows}), "duplicated result row"
    return keys


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_grid_resumes_to_the_same_rows(sig, sample_root, tmp_path, reference_grid):
    out = tmp_path / "det"
    csv = out / "results.csv"
    rc, err = _interrupt(_grid_cmd(sample_root, out), lambda: len(atomic.read_csv(csv)) >= 1, sig)
    assert len(atomic.read_csv(csv)) == 1  # one of the two runs finished, the other was cut
    if sig == signal.SIGTERM:
        assert rc == 143 and "Traceback" not in err
        assert "tvig detect: terminated (SIGTERM)" in err.strip().splitlines()[-1]
    _tvig(_grid_cmd(sample_root, out))
    assert _rows(atomic.read_csv(csv)) == _rows(reference_grid)
    assert len(reference_grid) == 2


def test_interrupt_inside_lightning_is_not_swallowed():
    """Lightning answers Ctrl-C / tvig's SIGTERM with sys.exit(1); the CLI must see it."""
    from tvig.cli import Terminated
    from tvig.detection.run import keep_interrupts

    with pytest.raises(Terminated):
        with keep_interrupts():
            try:
                raise Terminated()
            except KeyboardInterrupt:
                sys.exit(1)  # what lightning.pytorch.trainer.call does
    with pytest.raises(SystemExit):
        with keep_interrupts():
            sys.exit(3)  # any other exit passes through


# ---- row 5: numerics -------------------------------------------------------------------------
def test_nan_from_an_absurd_learning_rate_stops_with_its_step(sample_root, tmp_path, tiny):
    from tvig.pipeline import generate

    out = tmp_path / "set"
    shots = sorted((sample_root / "metal_nut" / "train" / "good").glob("*.png"))[:1]
    with pytest.raises(NumericsError, match=r"NaN/Inf at step \d+ \(text=.*total=.*lower the "
                                            r"learning rate \(profile lr=1e\+30\)"):
        generate(shots, "metal_nut", out, profile=tiny.replace(lr=1e30, steps=3, n_augment=1),
                 n=2, rounds=1, prompt=PROMPT, device="cpu", progress=False, log=lambda s: None)
    assert not list(out.rglob("*.png"))  # nothing saved as an image
    assert sorted(p.name for p in (out / STATE_DIR).iterdir()) == ["run.json"]  # no round kept


# ---- row 6: determinism ----------------------------------------------------------------------
@pytest.mark.slow
def test_same_seed_same_bytes_and_the_manifest_remakes_an_image(sample_root, tmp_path,
                                                                reference_set):
    import json

    from tvig import __version__
    from tvig.pipeline import reproduce

    out = tmp_path / "again"
    _tvig(_gen_cmd(sample_root, out))
    assert _set(out) == _set(reference_set)  # bit-identical PNGs and manifest
    rows = atomic.read_csv(reference_set / MANIFEST)
    row = rows[5]  # a pooled image: depends on the rounds, the merge, the pool and its seed
    assert row["source"] == "pooled" and row["run_seed"] == "3" and row["prompt"] == PROMPT
    assert row["tvig_version"] == __version__ and row["device"] == "cpu"
    assert json.loads(row["profile_params"])["name"] == "tiny"
    assert len(json.loads(row["shots"])) == 8
    png = reproduce(row, [sample_root / "metal_nut" / "train" / "good"], tmp_path / "remake",
                    log=lambda s: None)
    assert png.read_bytes() == (reference_set / IMAGES_DIR / row["file"]).read_bytes()


# ---- row 7: no network -----------------------------------------------------------------------
@pytest.mark.slow
def test_network_guard_is_active_in_a_notebook_kernel(tmp_path):
    import nbformat
    import papermill

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=5)\n"
        "    print('CONNECTED')\nexcept ConnectionRefusedError as e:\n    print('BLOCKED', e)")]
    nbformat.write(nb, tmp_path / "in.ipynb")
    assert os.environ["TVIG_NETGUARD"] == "1"
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                               kernel_name="python3", progress_bar=False)
    text = "".join(o.get("text", "") for o in nbformat.read(tmp_path / "out.ipynb", 4)
                   .cells[0].outputs)
    assert text.startswith("BLOCKED") and "network guard" in text
