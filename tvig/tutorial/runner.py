"""Run the tutorial notebooks 01 -> 04 with papermill, for one or many classes.

One parameter set per class (profile, data_root, category, shots, seed, out_dir, ...) is given
to every notebook of the chain, so each reads what the previous one wrote in the class's run
folder ``OUT/<dataset>/<category>/`` (:func:`tvig.paths.run_dir`). Only the parameters a
notebook declares in its ``parameters`` cell are passed. A failed notebook stops its class's
chain (the papermill error is shown and kept in the executed notebook); the other classes go
on. A summary table is printed and saved as ``OUT/summary.csv`` and ``OUT/summary.md``.

Example:
    >>> from tvig.tutorial.runner import RunConfig, run_notebooks
    >>> cfg = RunConfig(sample=True, profile="tiny", out="runs/demo")
    >>> result = run_notebooks(cfg)                               # doctest: +SKIP
    >>> result.ok                                                 # doctest: +SKIP
    True
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from tvig import atomic
from tvig.detection.datasets import DATASETS, get_dataset, validate_class
from tvig.detection.sample_data import (
    DEFAULT_CLASSES,
    SAMPLE_CLASSES,
    write_sample_data,
)
from tvig.errors import ConfigError, InputError, choices_text
from tvig.gates.run import ensure_checked
from tvig.paths import run_dir
from tvig.profiles import RANDOM_WEIGHTS_BANNER, get_profile, profile_or_tiny
from tvig.tutorial.setup_cell import (  # noqa: F401
    BRANCH,
    NOTEBOOKS_DIR,
    PIP_SPEC,
    REPO,
    REPO_URL,
    SETUP_MARKER,
    NotebookFile,
    badges_markdown,
    binder_url,
    colab_setup_cell,
    colab_url,
    find_notebooks,
    select_notebooks,
)
from tvig.tutorial.summary import SummaryRow, class_row, format_table, write_summary

KERNEL = "python3"
STAGE_DIR = ".tvig-notebooks"  # under OUT: the input notebooks as executed (kernelspec set)


@dataclass
class RunConfig:
    """Everything ``tvig notebooks run`` takes; the same keys are valid in a ``--params`` YAML."""

    out: Path = Path("runs/notebooks")
    sample: bool = False  # write the embedded sample classes under OUT/sample-data and use them
    data: Path | None = None  # a dataset root in the MVTec AD layout (ROOT/<category>/train/good)
    dataset: str | None = None  # a known dataset (OUT/<dataset>/<category>); default: see _dataset_name
    categories: list[str] | None = None  # default: sample.DEFAULT_CLASSES or every class in ROOT
    profile: str = "tiny"
    fallback_tiny: bool = False  # profile weights missing -> tiny (loudly) instead of failing
    shots: int = 1
    seed: int = 0
    device: str | None = None  # passed to notebooks declaring `device` (e.g. "cuda"); None: theirs
    notebooks: list[str] | None = None  # e.g. ["01", "02"]; default all, in order
    notebooks_dir: Path | None = None  # default: the repository's notebooks/
    params: dict[str, Any] = field(default_factory=dict)  # extra notebook parameters
    kernel: str = KERNEL
    progress: bool = True

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.data = Path(self.data) if self.data is not None else None
        self.notebooks_dir = Path(self.notebooks_dir) if self.notebooks_dir else None
        if self.categories is not None:
            self.categories = [str(c) for c in self.categories]
        if self.notebooks is not None:
            self.notebooks = [str(n) for n in self.notebooks]
        for name in ("shots", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "shots" else 0):
                raise ConfigError(f"{name} must be an integer {'>= 1' if name == 'shots' else '>= 0'}"
                                  f", got {v!r}")
        if not isinstance(self.params, dict):
            raise ConfigError(f"params must be a mapping of notebook parameter -> value, "
                              f"got {self.params!r}")
        if self.sample and self.data is not None:
            raise ConfigError("give either --sample or --data ROOT, not both")
        if not self.sample and self.data is None:
            raise ConfigError("nothing to run on: give --sample (embedded sample classes) or "
                              "--data ROOT (a dataset in the MVTec AD layout)")


CONFIG_KEYS = tuple(f.name for f in dataclasses.fields(RunConfig))


def load_params_file(path: "str | Path") -> dict[str, Any]:
    """Read a workshop YAML file whose keys are :class:`RunConfig` fields (``-`` or ``_``)."""

    data = atomic.read_yaml_mapping(path, "params file")
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} in {path}; valid keys: "
                          f"{', '.join(CONFIG_KEYS)}")
    return data


def make_config(file_values: dict[str, Any], cli_values: dict[str, Any]) -> RunConfig:
    """Defaults < YAML file < command line (``None`` on the command line means 'not given')."""
    merged = dict(file_values)
    merged.update({k: v for k, v in cli_values.items() if v is not None})
    if isinstance(merged.get("categories"), str):
        merged["categories"] = merged["categories"].split()
    return RunConfig(**merged)


@dataclass
class Plan:
    """A validated run: resolved profile, data root, classes and the staged notebooks."""

    config: RunConfig
    profile: str
    data_root: Path
    dataset: str
    categories: list[str]
    notebooks: list[Path]  # staged .ipynb, in order
    declared: dict[str, dict[str, str]]  # stem -> {parameter: default source text}
    random_weights: bool


def _stage(nb: NotebookFile, stage: Path, kernel: str) -> Path:
    """Copy a notebook (.ipynb, else the jupytext .py) to ``stage`` with a kernelspec set."""
    import jupytext  # heavy: only notebook files need it
    import nbformat

    src = nb.ipynb if nb.ipynb.exists() else nb.py
    node = jupytext.read(src) if src.suffix == ".py" else nbformat.read(src, as_version=4)
    node.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
    out = stage / f"{nb.stem}.ipynb"
    atomic.write_text(out, nbformat.writes(node))
    return out


def declared_parameters(notebook: "str | Path") -> dict[str, str]:
    """Names assigned in the notebook's ``parameters`` cell -> their default (source text).

    Parsed with :mod:`ast`, not papermill's line regex, which drops lines like
    ``data_root = None  # None = sample data`` (an ``=`` in the comment). {} when no such cell.
    """

    import nbformat  # heavy: only notebook files need it

    node = nbformat.read(str(notebook), as_version=4)
    cells = [c for c in node.cells if c.cell_type == "code"
             and "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return {}
    src = cells[0].source
    try:
        tree = ast.parse(src)
    except SyntaxError as e:
        raise InputError(f"the parameters cell of {notebook} is not valid Python ({e.msg}, "
                         f"line {e.lineno}); keep it to plain `name = value` lines") from None
    out: dict[str, str] = {}
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else \
            [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else []
        for t in targets:
            if isinstance(t, ast.Name):
                out[t.id] = ast.get_source_segment(src, stmt.value) or ""
    return out


def _categories(cfg: RunConfig, root: Path) -> list[str]:
    if cfg.sample:
        cats = cfg.categories or list(DEFAULT_CLASSES)
        for c in cats:
            if c not in SAMPLE_CLASSES:
                raise ConfigError(choices_text("sample class", c, list(SAMPLE_CLASSES)))
        return cats
    if not root.is_dir():
        if not cfg.categories:
            raise InputError(f"data root {root} does not exist; give --categories (the notebooks "
                             "may download the dataset) or point --data at an MVTec-layout folder")
        return cfg.categories
    present = sorted(p.name for p in root.iterdir() if (p / "train" / "good").is_dir())
    cats = cfg.categories or present
    missing = [c for c in cats if not (root / c).is_dir()]
    if missing or not cats:
        raise InputError(f"class(es) {', '.join(missing) or '(none found)'} not in {root}; "
                         f"classes there: {', '.join(present) or '(none with train/good)'}")
    return cats


def _dataset_name(cfg: RunConfig, root: Path, log: Callable[[str], None]) -> str:
    """``--dataset`` (a known name), else ROOT's name when it is one, else ``folder`` (any
    MVTec-layout root): notebook 04 resolves classes by this name."""
    if cfg.dataset is not None:
        if cfg.dataset not in DATASETS:
            raise ConfigError(choices_text("dataset", cfg.dataset, list(DATASETS)) +
                              " (--dataset; 'folder' = any folder in the MVTec AD layout)")
        return cfg.dataset
    if cfg.sample:
        return "sample"
    name = root.resolve().name
    if name in DATASETS:
        return name
    log(f"note: {root} is not named after a known dataset ({', '.join(sorted(DATASETS))}); "
        "using dataset 'folder' (any MVTec-layout root); pass --dataset to choose")
    return "folder"


def _check_classes(dataset: str, root: Path, categories: list[str],
                   log: Callable[[str], None]) -> None:
    """Notebook 04's class checks (layout, masks or none), done before notebook 01 runs."""
    if get_dataset(dataset).source == "local" or not root.is_dir():  # LOCO: converted in 04
        return  # a missing anomalib root is downloaded by notebook 04
    for c in categories:
        if not validate_class(root / c).has_masks:
            log(f"note: {root / c} has no ground_truth/ folder: image metrics only (no pixel "
                "AUROC or AUPRO)")


def plan_run(cfg: RunConfig, *, log: Callable[[str], None] = print) -> Plan:
    """Check everything that can be checked before any long work; stage the notebooks."""

    found = find_notebooks(cfg.notebooks_dir)
    if not found:
        raise InputError(f"no notebooks (NN_name.ipynb / NN_name.py) in "
                         f"{cfg.notebooks_dir or NOTEBOOKS_DIR}; pass --notebooks-dir")
    chosen = select_notebooks(found, cfg.notebooks)
    atomic.check_writable(cfg.out)
    prof = (profile_or_tiny(cfg.profile, log=log, check=lambda p: ensure_checked(p, log=log))
            if cfg.fallback_tiny else get_profile(cfg.profile))
    root = (cfg.out / "sample-data") if cfg.sample else Path(cfg.data)
    dataset = _dataset_name(cfg, root, log)
    cats = _categories(cfg, root)
    stage = cfg.out / STAGE_DIR
    staged = [_stage(nb, stage, cfg.kernel) for nb in chosen]
    declared = {p.stem: declared_parameters(p) for p in staged}
    if not cfg.sample and any("dataset" in d for d in declared.values()):  # notebook 04
        _check_classes(dataset, root, cats, log)
    unused = sorted(k for k in cfg.params if not any(k in d for d in declared.values()))
    if unused:
        raise ConfigError(f"parameter(s) {', '.join(unused)} are declared by none of the notebooks "
                          f"({', '.join(declared)}); their parameters: "
                          f"{', '.join(sorted({k for d in declared.values() for k in d}))}")
    for stem, d in declared.items():
        if not d:
            log(f"note: {stem} has no 'parameters' cell; it runs with its own defaults")
    return Plan(cfg, prof.name, root, dataset, cats, staged, declared, prof.random_weights)


def notebook_parameters(plan: Plan, stem: str, category: str) -> dict[str, Any]:
    """The parameters passed to one notebook for one class (only those it declares)."""
    cfg = plan.config
    full = dict(profile=plan.profile, data_root=str(plan.data_root.resolve()), category=category,
                dataset=plan.dataset, shots=cfg.shots, seed=cfg.seed,
                out_dir=str(run_dir(cfg.out, plan.dataset, category).resolve()))
    if cfg.device is not None:
        full["device"] = cfg.device
    full.update(cfg.params)
    return {k: v for k, v in full.items() if k in plan.declared[stem]}


@contextlib.contextmanager
def _kernel_env() -> Iterator[None]:
    """Kernels import the same tvig as the runner (a worktree or checkout, not another install)
    and draw figures inline even when the caller set ``MPLBACKEND=Agg`` (tests, CI)."""
    here = str(Path(__file__).resolve().parents[2])
    old = {k: os.environ.get(k) for k in ("PYTHONPATH", "MPLBACKEND")}
    os.environ["PYTHONPATH"] = os.pathsep.join([here] + ([old["PYTHONPATH"]] if old["PYTHONPATH"] else []))
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    # tvig checks parameters itself (declared_parameters); papermill's regex-based warnings
    # ("Unable to parse line", "Passed unknown parameter") would be false alarms here.
    quiet = [logging.getLogger(n) for n in ("papermill", "papermill.translators")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute_one(src: Path, dest: Path, params: dict[str, Any], *, cwd: Path, kernel: str = KERNEL,
                progress: bool = False) -> tuple[str, float, str]:
    """Execute one notebook into ``dest``; returns (status, seconds, error text or '').

    The executed notebook is written under a temp name and renamed when papermill is done, so
    ``dest`` is always a complete record (with the failing cell marked when it failed).
    """
    import papermill as pm  # heavy: papermill/nbclient only to execute notebooks
    from papermill.exceptions import PapermillExecutionError

    tmp = dest.with_name(atomic.TMP_PREFIX + dest.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        with _kernel_env():
            pm.execute_notebook(str(src), str(tmp), parameters=params, kernel_name=kernel,
                                progress_bar=progress, cwd=str(cwd))
        status, error = "ok", ""
    except PapermillExecutionError as e:
        status, error = "failed", str(e).strip()
    except Exception as e:  # kernel died, timeout, unreadable notebook...: this chain stops
        status, error = "failed", f"{type(e).__name__}: {e}"
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    seconds = time.perf_counter() - t0
    if tmp.exists():
        os.replace(tmp, dest)
    return status, seconds, error


@dataclass
class RunResult:
    rows: list[SummaryRow]
    summary_csv: Path
    summary_md: Path

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.rows)


def _short(error: str) -> str:
    lines = [ln for ln in error.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def run_notebooks(cfg: RunConfig, *, log: Callable[[str], None] = print) -> RunResult:
    """Run the chain for every class of ``cfg``; print and save the summary table."""

    plan = plan_run(cfg, log=log)
    if cfg.sample:

        write_sample_data(plan.data_root, plan.categories, seed=0)
    if plan.random_weights:
        log(RANDOM_WEIGHTS_BANNER)
    log(f"running {len(plan.notebooks)} notebook(s) x {len(plan.categories)} class(es), "
        f"profile {plan.profile}, data {plan.data_root} -> {cfg.out}")
    rows: list[SummaryRow] = []
    for cat in plan.categories:
        root = run_dir(cfg.out, plan.dataset, cat)
        root.mkdir(parents=True, exist_ok=True)
        class_rows: list[SummaryRow] = []
        failed = False
        for src in plan.notebooks:
            if failed:
                class_rows.append(SummaryRow(plan.dataset, cat, src.stem, "skipped", 0.0,
                                             error="an earlier notebook of this class failed"))
                continue
            log(f"[{plan.dataset}/{cat}] {src.stem} ...")
            status, secs, err = execute_one(src, root / src.name, notebook_parameters(plan, src.stem, cat),
                                            cwd=root, kernel=cfg.kernel, progress=cfg.progress)
            log(f"[{plan.dataset}/{cat}] {src.stem}: {status} in {secs:.1f} s")
            if err:
                log(f"---- papermill error in {root / src.name} ----\n{err}\n----")
                failed = True
            class_rows.append(SummaryRow(plan.dataset, cat, src.stem, status, round(secs, 1),
                                         error=_short(err)))
        rows += class_rows + [class_row(plan.dataset, cat, class_rows, root)]
    note = RANDOM_WEIGHTS_BANNER if plan.random_weights else f"profile: {plan.profile}"
    csv_path, md_path = write_summary(cfg.out, rows, note)
    log(format_table(rows))
    log(f"summary: {csv_path} and {md_path}")
    return RunResult(rows, csv_path, md_path)
