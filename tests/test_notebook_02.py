"""Notebook 02 runs headless with the tiny profile and hands its latent over to notebook 03."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

NB = Path(__file__).resolve().parents[1] / "notebooks" / "02_variance_aware_vqgan"


def test_notebook_pair_in_sync_and_without_outputs():
    import jupytext

    nb = json.loads(NB.with_suffix(".ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert sum("parameters" in c.get("metadata", {}).get("tags", []) for c in code) == 1
    import papermill

    params = papermill.inspect_notebook(str(NB.with_suffix(".ipynb")))
    assert {"profile", "data_root", "category", "shots", "seed", "out_dir", "prompt", "n",
            "steps", "device"} <= set(params)  # a parameter papermill cannot parse is lost
    from_py = jupytext.read(NB.with_suffix(".py"))
    assert [c.source for c in from_py.cells] == ["".join(c["source"]) for c in nb["cells"]]


@pytest.mark.slow
def test_notebook_02_runs_with_tiny(tmp_path):
    import papermill

    run = tmp_path / "run"
    run.mkdir()
    (run / "prompt.json").write_text(json.dumps({"prompt": "a shiny hexagonal metal nut",
                                                 "keyword": "metal nut", "category": "metal_nut",
                                                 "ranking": []}))
    out = tmp_path / "02.ipynb"
    papermill.execute_notebook(str(NB.with_suffix(".ipynb")), str(out), kernel_name="python3",
                               parameters=dict(profile="tiny", category="metal_nut", shots=2,
                                               seed=0, out_dir=str(run), n=3, steps=3),
                               cwd=str(tmp_path), progress_bar=False)
    saved = torch.load(run / "latent.pt", weights_only=True)
    assert saved["mu"].shape == saved["sigma"].shape == (2, 16, 16, 16)  # one component a shot
    assert saved["prompt"] == "a shiny hexagonal metal nut" and saved["random_weights"] is True
    text = out.read_text()
    assert "RANDOM WEIGHTS" in text and "variance-aware" in text and "diversity" in text
    for name in ("shots", "reconstructions", "latent_heatmaps", "samples_at_scales",
                 "loss_curves", "before_after", "ablation"):
        assert (run / "figures" / f"02_{name}.png").stat().st_size > 1000, name
