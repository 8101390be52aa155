"""Checks (and fixes) for the committed notebook pairs ``notebooks/NN_name.py`` + ``.ipynb``.

A committed pair is good when: both files exist; the ``.ipynb`` has no outputs and no execution
counts; its cells (type and source) equal those jupytext reads from the ``.py``; it has exactly
one code cell tagged ``parameters``; and its first code cell is the standard Colab/Binder setup
cell (:func:`tvig.tutorial.setup_cell.colab_setup_cell`).

Example:
    >>> from tvig.tutorial.checks import check_folder
    >>> check_folder("notebooks")      # doctest: +SKIP
    []
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tvig import atomic
from tvig.tutorial.setup_cell import (
    SETUP_MARKER,
    NotebookFile,
    colab_setup_cell,
    find_notebooks,
)

_DROP_CELL_META = ("papermill", "execution", "ExecuteTime", "collapsed", "scrolled")


def _cells(nb: Any) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def _code(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code"]


def check_notebook(nb: NotebookFile) -> list[str]:
    """Problems of one pair, each a sentence naming the file and the fix ([] when good)."""
    import jupytext  # heavy: only notebook files need it
    import nbformat

    if not nb.ipynb.exists() or not nb.py.exists():
        have, lack = (nb.ipynb, nb.py) if nb.ipynb.exists() else (nb.py, nb.ipynb)
        return [f"{lack.name}: missing pair of {have.name} (run `jupytext --sync {have}`)"]
    problems = []
    node = nbformat.read(nb.ipynb, as_version=4)
    name = nb.ipynb.name
    dirty = [i for i, c in enumerate(node.cells) if c.cell_type == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    if dirty:
        problems.append(f"{name}: cells {dirty} have outputs or execution counts (strip them: "
                        "`tvig notebooks check --fix` or `jupyter nbconvert --clear-output`)")
    if _cells(node) != _cells(jupytext.read(nb.py)):
        problems.append(f"{name}: out of sync with {nb.py.name} (run `jupytext --sync {nb.py}`)")
    tagged = [i for i, c in enumerate(node.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1 or node.cells[tagged[0]].cell_type != "code":
        problems.append(f"{name}: needs exactly one code cell tagged 'parameters', found cells "
                        f"{tagged} (in the .py: `# %% tags=[\"parameters\"]`)")
    code = _code(node)
    if not code or code[0].source.strip() != colab_setup_cell().strip():
        problems.append(f"{name}: the first code cell must be the standard setup cell "
                        "(tvig.tutorial.setup_cell.colab_setup_cell(); `tvig notebooks check --fix`)")
    return problems


def check_folder(folder: "str | Path | None" = None) -> list[str]:
    """Problems of every notebook pair in ``folder`` (default: the repository's notebooks/)."""
    return [p for nb in find_notebooks(folder) for p in check_notebook(nb)]


def strip_outputs(node: Any) -> Any:
    """Remove outputs, execution counts and execution metadata (in place); returns ``node``."""
    for c in node.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
        for k in _DROP_CELL_META:
            c.get("metadata", {}).pop(k, None)
    node.metadata.pop("papermill", None)
    return node


def ensure_setup_cell(node: Any) -> bool:
    """Make the first code cell the standard setup cell (replace an old one); True if changed."""
    import nbformat  # heavy: only notebook files need it

    code = _code(node)
    want = colab_setup_cell()
    if code and code[0].source.strip() == want.strip():
        return False
    if code and code[0].source.startswith(SETUP_MARKER):
        code[0].source = want
        return True
    at = node.cells.index(code[0]) if code else len(node.cells)
    node.cells.insert(at, nbformat.v4.new_code_cell(want))
    return True


def fix_notebook(nb: NotebookFile) -> str:
    """Setup cell in, outputs out, then write both files from the .py (or the .ipynb if alone)."""
    import jupytext  # heavy: only notebook files need it

    node = jupytext.read(nb.py if nb.py.exists() else nb.ipynb)
    changed = ensure_setup_cell(node)
    strip_outputs(node)
    node.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                            "language": "python"})
    if nb.ipynb.exists():  # keep cell ids of unchanged cells: no churn in diffs
        old = jupytext.read(nb.ipynb).cells
        for cell, prev in zip(node.cells, old):
            if (cell.cell_type, cell.source) == (prev.cell_type, prev.source) and "id" in prev:
                cell["id"] = prev["id"]
    written = []
    for path, fmt in ((nb.py, "py:percent"), (nb.ipynb, "ipynb")):
        # a fresh copy per format with plain-dict metadata: jupytext adds its own header
        # (text_representation), which yaml cannot dump when it lands in a NotebookNode
        out = copy.deepcopy(node)
        plain = json.loads(json.dumps(out.metadata))
        plain.get("jupytext", {}).pop("text_representation", None)
        out.metadata.clear()
        for k, v in plain.items():  # dict.__setitem__: NotebookNode would wrap v again
            dict.__setitem__(out.metadata, k, v)
        text = jupytext.writes(out, fmt=fmt)
        text += "" if text.endswith("\n") else "\n"  # as jupytext --sync writes files
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic.write_text(path, text)
            written.append(path.suffix)
    what = " and ".join(written) + " rewritten" if written else "unchanged"
    return f"{nb.stem}: {'setup cell added/updated, ' if changed else ''}{what}"


def fix_folder(folder: "str | Path | None" = None) -> list[str]:
    return [fix_notebook(nb) for nb in find_notebooks(folder)]
