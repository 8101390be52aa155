"""Shots and prompt hand-over for notebooks: one k-shot rule everywhere, clear errors."""
from __future__ import annotations

import json

import pytest

from tvig.detection.datasets import choose_shots, validate_class
from tvig.detection.shots import class_folder, load_shots, pick_shots
from tvig.errors import ConfigError, InputError
from tvig.paths import RunPaths
from tvig.prompting.ranking import load_prompt


def test_prompt_sources(tmp_path):
    run = RunPaths(tmp_path)
    assert load_prompt(tmp_path, "metal_nut")[0] == "a photo of a metal nut"
    assert load_prompt(tmp_path, "metal_nut", "a bolt") == ("a bolt", "parameter")
    run.prompt_json.write_text(json.dumps({"prompt": "a hexagonal metal nut"}))
    assert load_prompt(tmp_path, "metal_nut") == ("a hexagonal metal nut",
                                                  f"prompt from {run.prompt_json}")
    run.prompt_json.write_text("{broken")
    p, source = load_prompt(tmp_path, "metal_nut")
    assert p == "a photo of a metal nut" and "unreadable" in source
    with pytest.raises(InputError, match="unreadable"):
        load_prompt(tmp_path)


@pytest.mark.parametrize("k,seed", [(1, 0), (3, 1), (5, 7)])
def test_notebook_shots_equal_benchmark_shots(sample_root, k, seed):
    """Notebooks 01-03 and the detection benchmark (04) use the same k images for a seed."""
    folder = sample_root / "brick"
    assert pick_shots(folder, k, seed) == choose_shots(validate_class(folder), k, seed)


def test_shots_nested_and_seeded(sample_root):
    one, five = pick_shots(sample_root / "brick", 1, 3), pick_shots(sample_root / "brick", 5, 3)
    assert set(one) <= set(five) and five == sorted(five)
    assert pick_shots(sample_root / "brick", 5, 3) == five
    assert {tuple(pick_shots(sample_root / "brick", 2, s)) for s in range(6)} != {tuple(five[:2])}


def test_load_shots_from_root_and_errors(sample_root, tmp_path):
    x, files, _ = load_shots(sample_root, "brick", 2, 64, seed=0, workdir=tmp_path)
    assert x.shape == (2, 3, 64, 64) and files == pick_shots(sample_root / "brick", 2, 0)
    with pytest.raises(InputError, match="classes found under .*brick"):
        load_shots(sample_root, "no_such", 1, 64, workdir=tmp_path)
    with pytest.raises(InputError, match="shots=99 is larger than the 8"):
        load_shots(sample_root, "brick", 99, 64, workdir=tmp_path)
    with pytest.raises(ConfigError, match="shots must be a positive integer"):
        load_shots(sample_root, "brick", 0, 64, workdir=tmp_path)


def test_sample_class_written_on_demand(tmp_path):
    folder = class_folder(None, "metal_nut", tmp_path)
    assert (folder / "train" / "good" / "000.png").is_file()
    with pytest.raises(ConfigError, match="valid sample classes"):
        class_folder(None, "carpet", tmp_path)


def test_btad_train_ok_is_a_class_folder(sample_root, tmp_path):
    """BTAD keeps its good training images in train/ok: notebooks must accept it too."""
    import shutil

    btad = tmp_path / "btad" / "01"
    shutil.copytree(sample_root / "brick" / "train" / "good", btad / "train" / "ok")
    folder = class_folder(tmp_path / "btad", "01", tmp_path)
    assert pick_shots(folder, 2, 0) == [btad / "train" / "ok" / p.name
                                        for p in pick_shots(sample_root / "brick", 2, 0)]
