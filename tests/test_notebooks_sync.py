"""Committed notebook pairs are clean (no outputs), in sync, parameterised and Colab-ready."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbfactory import write_pair

from tvig.tutorial.checks import check_folder, check_notebook, fix_folder
from tvig.tutorial.setup_cell import colab_setup_cell, find_notebooks

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


def test_committed_notebooks_are_clean_and_in_sync():
    stems = {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*") if p.suffix in (".py", ".ipynb")}
    checked = find_notebooks(NOTEBOOKS)
    assert {nb.stem for nb in checked} == stems  # every committed notebook is checked
    assert check_folder(NOTEBOOKS) == []


def test_committed_notebooks_setup_cell_comes_first():
    """Stated on its own so a failure names the rule; also: parameters after setup."""
    for nb in find_notebooks(NOTEBOOKS):
        node = nbformat.read(nb.ipynb, as_version=4)
        code = [c for c in node.cells if c.cell_type == "code"]
        assert code[0].source.strip() == colab_setup_cell().strip(), nb.stem
        assert "parameters" not in code[0].metadata.get("tags", []), nb.stem


@pytest.fixture
def good(tmp_path) -> Path:
    write_pair(tmp_path, "01_good", "print(category)", "category = 'brick'")
    assert check_folder(tmp_path) == []
    return tmp_path


def _edit(path: Path, fn) -> None:
    node = nbformat.read(path, as_version=4)
    fn(node)
    nbformat.write(node, path)


def test_outputs_and_execution_counts_are_caught(good):
    nb = good / "01_good.ipynb"

    def add_output(node):
        cell = node.cells[-1]
        cell.execution_count = 3
        cell.outputs = [nbformat.v4.new_output("stream", text="brick\n")]
    _edit(nb, add_output)
    [problem] = check_folder(good)
    assert "outputs" in problem and "01_good.ipynb" in problem


def test_out_of_sync_is_caught(good):
    py = good / "01_good.py"
    py.write_text(py.read_text().replace("print(category)", "print(category * 2)"))
    assert any("out of sync" in p for p in check_folder(good))


def test_parameters_cell_count_is_caught(tmp_path):
    write_pair(tmp_path, "01_none", "x = 1", None)
    write_pair(tmp_path, "02_two", "# %% tags=[\"parameters\"]\ny = 2", "x = 1")
    problems = check_folder(tmp_path)
    assert len([p for p in problems if "parameters" in p]) == 2


def test_missing_setup_cell_and_missing_pair_are_caught(tmp_path):
    write_pair(tmp_path, "01_nosetup", "x = 1", "category = 'a'", setup=False)
    write_pair(tmp_path, "02_alone", "x = 1", "category = 'a'")
    (tmp_path / "02_alone.py").unlink()
    problems = check_folder(tmp_path)
    assert any("01_nosetup" in p and "setup cell" in p for p in problems)
    assert any("02_alone.py: missing pair" in p for p in problems)


def test_fix_repairs_everything(tmp_path):
    write_pair(tmp_path, "01_nosetup", "x = 1", "category = 'a'", setup=False)

    def spoil(node):
        node.cells[-1].outputs = [nbformat.v4.new_output("stream", text="1")]
        node.cells[-1].source = "x = 2  # edited in Jupyter only"
    _edit(tmp_path / "01_nosetup.ipynb", spoil)
    assert len(check_folder(tmp_path)) == 3  # outputs, out of sync, no setup cell
    fix_folder(tmp_path)
    assert check_folder(tmp_path) == []
    assert "x = 1" in (tmp_path / "01_nosetup.ipynb").read_text()  # the .py is the source
    assert check_notebook(find_notebooks(tmp_path)[0]) == []
