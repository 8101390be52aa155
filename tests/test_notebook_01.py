"""Notebook 01 (prompting) runs headless with the tiny profile and hands p* to notebook 02/03."""
import json
from pathlib import Path

import pytest

NB = Path(__file__).resolve().parents[1] / "notebooks" / "01_prompting"


def test_notebook_pair_in_sync_without_outputs():
    import jupytext
    import nbformat

    node = nbformat.read(NB.with_suffix(".ipynb"), as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in node.cells if c.cell_type == "code")
    ours = [(c.cell_type, c.source.strip()) for c in node.cells]
    assert ours == [(c.cell_type, c.source.strip()) for c in jupytext.read(NB.with_suffix(".py")).cells]
    tagged = [c for c in node.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "profile" in tagged[0].source and "out_dir" in tagged[0].source


@pytest.mark.slow
def test_notebook_01_runs_tiny_on_sample_class(tmp_path):
    import papermill as pm

    run = tmp_path / "run"
    pm.execute_notebook(str(NB.with_suffix(".ipynb")), str(tmp_path / "out.ipynb"),
                        parameters=dict(profile="tiny", category="metal_nut", shots=2, seed=0,
                                        top=8, out_dir=str(run)),
                        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    saved = json.loads((run / "prompt.json").read_text())
    assert saved["prompt"] == saved["ranking"][0]["prompt"]
    assert saved["chosen"] == ["nut.n.03"] and saved["n_shots"] == 2
    assert saved["random_weights"] is True
    text = (tmp_path / "out.ipynb").read_text()
    assert "RANDOM WEIGHTS" in text and "p* =" in text and "nut.n.03" in text
