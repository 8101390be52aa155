"""Build the documentation site offline: MkDocs + mkdocs-jupyter + mkdocstrings.

``build_site(out)`` (``tvig docs build --out site``):

1. executes the tutorial notebooks with the ``tiny`` profile on one sample class (through
   :func:`tvig.tutorial.runner.run_notebooks`), unless an already executed folder is given;
2. assembles a source tree in the work folder: ``docs/`` as committed, the method figure drawn
   with matplotlib, a CLI reference generated from :func:`tvig.cli.build_parser`, an API
   reference page per module (mkdocstrings reads the docstrings), and the executed notebooks,
   each headed by a banner saying its outputs come from random weights;
3. runs ``mkdocs build`` into ``out`` (plain HTML, opens from ``file://``, no network needed).

Example:
    >>> from tvig.tutorial.docs import build_site
    >>> build_site("site")                 # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pkgutil
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import yaml

import tvig
from tvig import atomic
from tvig.cli import build_parser
from tvig.errors import ConfigError, InputError
from tvig.plots.method import modules_figure
from tvig.tutorial.runner import RunConfig, run_notebooks
from tvig.tutorial.setup_cell import (
    REPO_URL,
    badges_markdown,
    binder_url,
    find_notebooks,
)

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
DOCS_PACKAGES = ("mkdocs", "mkdocs_jupyter", "mkdocstrings", "mkdocstrings_handlers.python", "material")
TINY_NOTE = ("> **These outputs come from the `tiny` profile: RANDOM WEIGHTS.** The prompts, "
             "images and scores below only show that the pipeline runs; they mean nothing. Run "
             "the notebook yourself with `profile = \"paper\"` (see the GPU page) for real results.")


def _require_packages() -> None:
    missing = [p for p in DOCS_PACKAGES if importlib.util.find_spec(p.split(".")[0]) is None]
    if missing:
        raise ConfigError(f"the docs build needs {', '.join(missing)}; install them with "
                          "`pip install -e '.[docs]'`")


def cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """Markdown with the ``--help`` text of every command and subcommand."""

    parser = parser or build_parser()
    parts = ["# Command line reference\n", "Generated from `tvig.cli.build_parser()`.\n"]

    def walk(p: argparse.ArgumentParser, depth: int) -> None:
        parts.append(f"{'#' * min(depth, 4)} `{p.prog}`\n\n```text\n{p.format_help().rstrip()}\n```\n")
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in dict.fromkeys(action.choices.values()):  # aliases once
                    walk(sub, depth + 1)

    walk(parser, 2)
    return "\n".join(parts)


def api_modules() -> list[str]:
    """Public tvig modules (``tvig.x``, ``tvig.plots.y``), the CLI package left to its own page."""

    names = [m.name for m in pkgutil.walk_packages(tvig.__path__, "tvig.")]
    return sorted(n for n in names if not any(part.startswith("_") for part in n.split("."))
                  and not n.startswith("tvig.cli"))


def api_reference() -> str:
    blocks = [f"## `{m}`\n\n::: {m}\n    options:\n      show_root_heading: false\n"
              for m in api_modules()]
    return "# API reference\n\nGenerated from the docstrings.\n\n" + "\n".join(blocks)


def _source_notebook(folder: Path, stem: str) -> Path:
    """The committed ``.ipynb`` of a notebook, else its ``.py`` (jupytext reads both)."""
    ipynb = folder / f"{stem}.ipynb"
    return ipynb if ipynb.exists() else folder / f"{stem}.py"


def _notebook_page(src: Path, dest: Path, executed: bool) -> None:
    import jupytext  # heavy: only notebook files need it
    import nbformat

    node = jupytext.read(src)
    stem = src.stem
    head = badges_markdown(stem) + "\n\n" + (TINY_NOTE if executed else
                                             "> Not executed for the docs: no outputs shown.")
    node.cells.insert(0, nbformat.v4.new_markdown_cell(head))
    atomic.write_text(dest, nbformat.writes(node))


def _notebooks_index(stems: list[str], failed: list[str]) -> str:
    lines = ["# Notebooks\n", "The tutorial, in order. Each page shows the notebook executed with "
             "the `tiny` profile (**random weights**: outputs show the pipeline, not results). "
             f"Open one in Colab or on [Binder]({binder_url()}) to run it yourself.\n"]
    lines += [f"- [{s}]({s}.ipynb) {badges_markdown(s)}" for s in stems] or ["(no notebooks yet)"]
    if failed:
        lines.append(f"\n!!! warning\n    These notebooks failed in the docs run: {', '.join(failed)}\n")
    return "\n".join(lines) + "\n"


def _mkdocs_yml(src: Path, out: Path, stems: list[str]) -> str:
    cfg = {
        "site_name": "tvig", "repo_url": REPO_URL, "docs_dir": str(src), "site_dir": str(out),
        "use_directory_urls": False,  # pages open from file:// too
        "theme": {"name": "material", "font": False, "features": ["navigation.sections"]},
        "markdown_extensions": ["admonition", "tables", "toc", "pymdownx.superfences"],
        "plugins": ["search",
                    {"mkdocs-jupyter": {"include_source": True, "execute": False,
                                        "include_requirejs": False, "ignore_h1_titles": True}},
                    {"mkdocstrings": {"handlers": {"python": {"paths": [str(Path(__file__).parents[2])],
                                                              "options": {"show_source": False}}}}}],
        "nav": [{"Home": "index.md"}, {"Method": "method.md"},
                {"Notebooks": ["notebooks/index.md"] + [f"notebooks/{s}.ipynb" for s in stems]},
                {"Colab and Binder": "notebook_header.md"}, {"GPU runs": "gpu.md"},
                {"CLI reference": "cli.md"}, {"API reference": "api.md"}],
    }
    return yaml.safe_dump(cfg, sort_keys=False)


def execute_for_docs(work: Path, notebooks_dir: Path | None, category: str,
                     log: Callable[[str], None]) -> tuple[Path, list[str]]:
    """Run the chain with ``tiny`` on one sample class; returns (folder of executed, failed)."""

    res = run_notebooks(RunConfig(sample=True, categories=[category], profile="tiny",
                                  out=work / "tiny-run", notebooks_dir=notebooks_dir,
                                  progress=False), log=log)
    failed = [r.notebook for r in res.rows if r.status != "ok" and r.notebook != "all"]
    return work / "tiny-run" / "sample" / category, failed


def build_site(out: "str | Path" = "site", *, work: "str | Path | None" = None,
               notebooks_dir: "str | Path | None" = None, executed: "str | Path | None" = None,
               execute: bool = True, category: str = "brick",
               log: Callable[[str], None] = print) -> Path:
    """Build the site into ``out``; returns the path of its ``index.html``."""
    _require_packages()
    t0 = time.perf_counter()
    out = Path(out).resolve()
    work = Path(work).resolve() if work else out.parent / (out.name + "-build")
    stems = [nb.stem for nb in find_notebooks(notebooks_dir)]
    failed: list[str] = []
    if executed is not None:
        nb_src, ran = Path(executed), True
        if not nb_src.is_dir():
            raise InputError(f"executed-notebooks folder not found: {nb_src}")
        stems = sorted(p.stem for p in nb_src.glob("[0-9][0-9]_*.ipynb"))
    elif execute and stems:
        nb_src, failed = execute_for_docs(work, notebooks_dir, category, log)
        ran = True
    else:
        nb_src, ran = Path(notebooks_dir) if notebooks_dir else DOCS_DIR.parent / "notebooks", False

    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(DOCS_DIR, src)
    (src / "assets").mkdir(exist_ok=True)

    modules_figure().savefig(src / "assets" / "modules.png")
    atomic.write_text(src / "cli.md", cli_reference())
    atomic.write_text(src / "api.md", api_reference())
    (src / "notebooks").mkdir(exist_ok=True)
    source_dir = Path(notebooks_dir) if notebooks_dir else DOCS_DIR.parent / "notebooks"
    for s in stems:  # a notebook the run did not reach (an earlier one failed): its source
        done = (nb_src / f"{s}.ipynb").exists()
        _notebook_page(nb_src / f"{s}.ipynb" if done else _source_notebook(source_dir, s),
                       src / "notebooks" / f"{s}.ipynb", ran and done)
    atomic.write_text(src / "notebooks" / "index.md", _notebooks_index(stems, failed))
    atomic.write_text(work / "mkdocs.yml", _mkdocs_yml(src, out, stems))
    log(f"building the site with mkdocs into {out} ...")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")  # mkdocs-material's banner is noise here
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--clean", "-f",
                           str(work / "mkdocs.yml")], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise ConfigError(f"mkdocs build failed (config {work / 'mkdocs.yml'}):\n"
                          f"{proc.stderr[-4000:]}")
    log(f"site built in {time.perf_counter() - t0:.0f} s: open {out / 'index.html'}"
        + (f"  (notebooks that failed in the tiny run: {', '.join(failed)})" if failed else ""))
    return out / "index.html"
