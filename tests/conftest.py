"""Test-wide setup: offline, network guard on (here and in subprocesses), a private cache.

Fixtures:
    sample_root  session-wide embedded sample classes (MVTec layout), read-only by convention
    tiny         the ``tiny`` profile
    run_cli      run ``python -m tvig ...`` in a subprocess, returning CompletedProcess
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
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(NETGUARD), str(REPO)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="tvig-test-home-"))
os.environ.setdefault("TVIG_HOME", str(_SESSION_HOME))

sys.path.insert(0, str(NETGUARD))
import tvig_netguard  # noqa: E402  (activates the guard in this process)

assert tvig_netguard.ACTIVE, "network guard failed to activate"


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
