"""Test-wide setup: offline, network guard on (here and in subprocesses), a private cache.

Fixtures:
    sample_root  session-wide embedded sample classes (MVTec layout), read-only by convention
    tiny         the ``tiny`` profile
    run_cli      run ``python -m tvig ...`` in a subprocess, returning CompletedProcess
    cli          run ``tvig ...`` in this process (the same ``main``, no interpreter start and
                 imports: seconds less a call), returning the same CompletedProcess
    tiny_chain   the four real notebooks run once by ``tvig notebooks run --profile tiny``
                 on the sample class brick (shared by the runner and docs tests)

Parallel runs (``make test`` = pytest-xdist, ``-n 2``): a test file runs on one worker, so its
module fixtures run once; the files that share ``tiny_chain`` run on the same one (SAME_WORKER).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NETGUARD = Path(__file__).parent / "netguard"

# Set before anything imports huggingface_hub / tvig, and inherited by subprocesses.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TVIG_NETGUARD"] = "1"
os.environ["MPLBACKEND"] = "Agg"
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One thread a worker (and its subprocesses, notebook kernels included): two workers with
    # two torch threads each on two cores spin and wait (measured: +45 % CPU time).
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(NETGUARD), str(REPO)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="tvig-test-home-"))
os.environ.setdefault("TVIG_HOME", str(_SESSION_HOME))

sys.path.insert(0, str(NETGUARD))
import tvig_netguard  # noqa: E402  (activates the guard in this process)

assert tvig_netguard.ACTIVE, "network guard failed to activate"


# Test files that share a session fixture run on one worker, so that it runs once.
SAME_WORKER = {"tests/test_runner.py": "tiny_chain", "tests/test_docs.py": "tiny_chain"}


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under pytest-xdist: a test file is one unit of work (its module fixtures run once), and
    the files in SAME_WORKER go together. (xdist's own ``xdist_group`` mark does nothing under
    pytest 9: it renames ``item._nodeid``, which pytest 9 no longer reads.)"""
    # heavy: xdist is a test-only plugin, present only when the run uses it
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False  # keep the order pytest_collection_modifyitems chose

    class FileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return SAME_WORKER.get(file, file)

    return FileScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with the most ``slow`` tests first (stable otherwise), so that two workers do not
    end with one long file left on one of them."""
    slow: dict[str, int] = {}
    for item in items:
        file = item.nodeid.split("::")[0]
        slow[file] = slow.get(file, 0) + (item.get_closest_marker("slow") is not None)
    items.sort(key=lambda item: -slow[item.nodeid.split("::")[0]])


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    from tvig.detection.sample_data import write_sample_data

    root = tmp_path_factory.mktemp("samples")
    write_sample_data(root)
    return root


@pytest.fixture(scope="session")
def tiny():
    from tvig.profiles import get_profile

    return get_profile("tiny")


@pytest.fixture
def run_cli():
    def run(*args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tvig", *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, cwd=kw.pop("cwd", REPO), **kw)

    return run


@pytest.fixture
def cli(capsys, monkeypatch):
    from tvig.cli import main

    def run(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """``env``: variables to set for this call (the rest of os.environ stays)."""
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse: --help (0) and usage errors (2)
            code = e.code if isinstance(e.code, int) else int(e.code is not None)
        out = capsys.readouterr()
        return subprocess.CompletedProcess(["tvig", *map(str, args)], code, out.out, out.err)

    return run


@pytest.fixture(scope="session")
def tiny_chain(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """(output folder, the finished process) of the real chain, run as a user runs it."""
    out = tmp_path_factory.mktemp("tiny-chain") / "run"
    res = subprocess.run([sys.executable, "-m", "tvig", "notebooks", "run", "--profile", "tiny",
                          "--sample", "--categories", "brick", "--out", str(out), "--quiet"],
                         capture_output=True, text=True, timeout=1200, cwd=REPO)
    return out, res
