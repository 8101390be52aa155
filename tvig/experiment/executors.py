"""Where the units run: in this process (``serial``, the default) or as Ray tasks (``ray``:
a local instance, or a cluster with ``address``). Ray does the scheduling: each unit is a
task whose arguments are the results of the units it reads, so a generation runs before its
detections; a lost worker's task is retried (``retries``); the driver writes the table.

Example:
    >>> run_units(units, "runs/exp", executor="serial")                    # doctest: +SKIP
    >>> run_units(units, "runs/exp", executor="ray", address="127.0.0.1:6379",
    ...           resources=Resources(gpus_per_detect=0.5))              # doctest: +SKIP
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm.auto import tqdm

from tvig.errors import ConfigError, InputError, choices_text
from tvig.experiment.units import Unit
from tvig.experiment.work import is_done, run_unit

EXECUTORS = ("serial", "ray")
CHECK_DIR = ".tvig-shared-check"


@dataclass(frozen=True)
class Resources:
    """What one Ray task of each kind asks for (fractions share a GPU)."""

    cpus_per_unit: float = 1.0
    gpus_per_generate: float = 0.0
    gpus_per_detect: float = 0.0
    retries: int = 3  # Ray retries of a task whose worker died

    @property
    def threads(self) -> int:
        """torch threads per unit, serial and Ray alike (same sums, same bytes)."""
        return max(1, int(self.cpus_per_unit))

    def __post_init__(self) -> None:
        for name in ("cpus_per_unit", "gpus_per_generate", "gpus_per_detect"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name.replace('_', '-')} must be >= 0, got "
                                  f"{getattr(self, name)}")
        if self.retries < 0:
            raise ConfigError(f"retries must be >= 0, got {self.retries}")

    def options(self, kind: str) -> dict[str, Any]:
        gpus = {"generated": self.gpus_per_generate, "prompt": self.gpus_per_generate,
                "detect": self.gpus_per_detect}.get(kind, 0.0)
        cpus = self.cpus_per_unit if kind != "shots" else min(self.cpus_per_unit, 0.5)
        return {"num_cpus": cpus, "num_gpus": gpus, "max_retries": self.retries}


def _skipped(unit: Unit, why: str) -> dict[str, Any]:
    return {"kind": unit.kind, "fp": unit.fp, "status": "failed", "seconds": 0.0,
            "error": why}


def run_serial(units: Sequence[Unit], out: Path, bar, threads: int) -> list[dict[str, Any]]:
    failed: set[str] = set()
    results = []
    for u in units:
        if set(u.deps) & failed:
            r = _skipped(u, "a unit it needs failed")
        else:
            bar.set_postfix_str(u.label, refresh=False)
            r = run_unit(u, out, threads)
        if r["status"] == "failed":
            failed.add(u.fp)
        results.append(r)
        bar.update(1)
    return results


def _ray_unit(unit: Unit, out: str, threads: int, *deps: dict[str, Any]) -> dict[str, Any]:
    """A Ray task: the unit, after the units it reads (their results are ``deps``)."""
    if any(d["status"] == "failed" for d in deps):
        return _skipped(unit, "a unit it needs failed")
    return run_unit(unit, out, threads)


def _check_token(path: str, token: str) -> str:
    """Runs on one node: read the driver's token from the shared folder, write it back."""
    import ray  # heavy: Ray only for the ray executor

    node = ray.get_runtime_context().get_node_id()
    p = Path(path)
    seen = (p / "driver.token").read_text() if (p / "driver.token").is_file() else ""
    (p / f"{node}.token").write_text(seen)
    return node


def check_shared_folder(out: Path) -> None:
    """Run a task on every alive node that reads the driver's token from ``out`` and writes
    it back; any node that cannot is a clear error (the output folder must be shared)."""
    import ray  # heavy: Ray only for the ray executor
    from ray.util.scheduling_strategies import (
        NodeAffinitySchedulingStrategy,  # heavy: Ray
    )

    folder = out / CHECK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    (folder / "driver.token").write_text(token)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    task = ray.remote(_check_token)
    refs = [task.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
        n["NodeID"], soft=False)).remote(str(folder), token) for n in nodes]
    try:
        ray.get(refs, timeout=120)
    except Exception as e:  # a node whose task failed (no such folder there, ...)
        raise InputError(f"output folder {out} is not usable on every Ray node ({e}); "
                         "use a folder all nodes share (NFS, ...) for --out") from None
    bad = [n["NodeManagerAddress"] for n in nodes
           if not (folder / f"{n['NodeID']}.token").is_file()
           or (folder / f"{n['NodeID']}.token").read_text() != token]
    if bad:
        raise InputError(f"output folder {out} is not shared with Ray node(s) "
                         f"{', '.join(bad)}: their files do not reach the driver; use a "
                         "folder all nodes share (NFS, ...) for --out")


def ray_env() -> dict[str, str]:
    """The variables that keep a local Ray on loopback and without auth or usage stats."""
    return {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled",
            "RAY_USAGE_STATS_ENABLED": "0"}


def start_ray(address: str | None, num_cpus: int | None) -> bool:
    """Connect to ``address`` or start a local instance on 127.0.0.1; True if we started it."""
    import ray  # heavy: Ray only for the ray executor

    for k, v in ray_env().items():
        os.environ.setdefault(k, v)
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False)
        return False
    ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    return True


def run_ray(units: Sequence[Unit], out: Path, bar, *, address: str | None,
            resources: Resources, num_cpus: int | None) -> list[dict[str, Any]]:
    import ray  # heavy: Ray only for the ray executor

    started = start_ray(address, num_cpus)
    try:
        check_shared_folder(out)
        task = ray.remote(_ray_unit)
        refs: dict[str, Any] = {}
        for u in units:
            deps = [refs[d] for d in u.deps if d in refs]
            refs[u.fp] = task.options(**resources.options(u.kind)).remote(u, str(out), resources.threads,
                                                                  *deps)
        pending, results = list(refs.values()), []
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            results += ray.get(ready)
            bar.update(len(ready))
        return results
    finally:
        if started:
            ray.shutdown()


def run_units(units: Sequence[Unit], out: "str | os.PathLike[str]", *,
              executor: str = "serial", address: str | None = None,
              resources: Resources = Resources(), num_cpus: int | None = None,
              progress: bool = True, on_done: Callable[[], None] | None = None,
              ) -> list[dict[str, Any]]:
    """Run every unit not yet complete; returns one result per unit run."""
    if executor not in EXECUTORS:
        raise ConfigError(choices_text("executor", executor, list(EXECUTORS)))
    if address and executor != "ray":
        raise ConfigError("--address needs --executor ray")
    out = Path(out).resolve()
    todo = [u for u in units if not is_done(out, u)]
    bar = tqdm(total=len(todo), desc="units", unit="unit", disable=not progress)
    try:
        if executor == "serial":
            return run_serial(todo, out, bar, resources.threads)
        return run_ray(todo, out, bar, address=address, resources=resources,
                       num_cpus=num_cpus)
    finally:
        bar.close()
        if on_done is not None:
            on_done()  # the driver writes the table, also after Ctrl-C


__all__ = ["run_units", "Resources", "EXECUTORS", "check_shared_folder", "ray_env"]
