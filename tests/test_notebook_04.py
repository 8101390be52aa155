"""Notebook 04 runs headless with tiny parameters, with and without a generated set."""
import json
from pathlib import Path

import pytest

from tvig import atomic
from tvig.detection.grid import plan_train_sets

NB = Path(__file__).resolve().parents[1] / "notebooks" / "04_detection.ipynb"


def test_pair_in_sync_and_without_outputs():
    nb = json.loads(NB.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert any("parameters" in c["metadata"].get("tags", []) for c in code)
    py = NB.with_suffix(".py").read_text()
    assert all("".join(c["source"]).splitlines()[0] in py for c in code)


def test_plan_without_generated_set_skips_b(tmp_path):
    sets, note = plan_train_sets(tmp_path / "missing", ["brick"])
    assert sets == ["real", "augmented"] and "SKIPPED" in note and "brick" in note
    (tmp_path / "g" / "images").mkdir(parents=True)
    (tmp_path / "g" / "images" / "a.png").write_bytes(b"")
    sets, note = plan_train_sets(tmp_path / "g", ["brick"])
    assert sets == ["real", "generated", "augmented"] and note == ""


@pytest.mark.slow
def test_papermill_tiny_with_generated_set(tmp_path, sample_root):
    import shutil

    import papermill as pm

    from tvig.paths import RunPaths

    run = RunPaths(tmp_path / "run")
    gen = run.generated_dir / "images"
    gen.mkdir(parents=True)
    for i, p in enumerate(sorted((sample_root / "metal_nut" / "train" / "good").glob("*.png"))[-3:]):
        shutil.copy(p, gen / f"gen_{i}.png")  # stand-in "generated" images (other good train images)
    out = tmp_path / "04.ipynb"
    pm.execute_notebook(str(NB), str(out), kernel_name="python3", cwd=str(tmp_path),
                        parameters=dict(profile="tiny", category="metal_nut", shots=[1],
                                        models=["patchcore_r18"], seeds=[0], out_dir=str(run.root)))
    rows = atomic.read_csv(run.detection_dir / "results.csv")
    assert [r["train_set"] for r in rows] == ["real", "generated", "augmented"]
    assert [int(r["n_train"]) for r in rows] == [1, 4, 4]
    assert all(r["pretrained"] == "False" for r in rows)
    for name in ("bars_image_auroc", "bars_aupro", "qualitative"):
        assert (run.figures_dir / f"04_{name}.png").is_file()
    text = out.read_text()
    assert "RANDOM WEIGHTS" in text and "NOTE: no generated set" not in text
