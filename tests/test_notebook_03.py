"""papermill runs notebook 03 with the tiny profile; it exports the set for notebook 04."""
from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_iterative_integration.ipynb"


def test_notebook_pair_has_no_outputs_and_a_parameters_cell():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    from tvig.tutorial.runner import declared_parameters

    params = declared_parameters(NOTEBOOK)  # what the runner passes: its own parser
    assert {"profile", "data_root", "category", "shots", "seed", "out_dir", "rounds", "steps",
            "n_images", "merge_weight", "device"} <= set(params)


@pytest.mark.slow
def test_notebook_03_runs_with_tiny(tmp_path):
    import papermill as pm

    run = tmp_path / "run"
    out_nb = tmp_path / "03.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out_nb), kernel_name="python3", cwd=str(tmp_path),
                        parameters=dict(profile="tiny", out_dir=str(run), category="metal_nut",
                                        shots=1, seed=0, steps=2, n_images=5, rounds=2),
                        progress_bar=False)
    text = out_nb.read_text()
    assert "RANDOM WEIGHTS" in text
    assert "notebook 01 not run" in text  # standalone: the prompt was computed, with a note
    gen = run / "generated"
    assert len(list((gen / "images").glob("*.png"))) == 5
    assert (gen / "manifest.csv").is_file() and (gen / "contact_sheet.png").is_file()
    assert (gen / "report.json").is_file()
