"""Shots and prompt hand-over for notebooks: sample data fallback, prompt.json, clear errors."""
from __future__ import annotations

import json

import pytest

from tvig.errors import InputError
from tvig.paths import RunPaths
from tvig.runinputs import load_shots, resolve_prompt


def test_prompt_sources(tmp_path):
    run = RunPaths(tmp_path)
    assert resolve_prompt(run, "metal_nut")[0] == "a photo of a metal nut"
    assert resolve_prompt(run, "metal_nut", "a bolt") == ("a bolt", "parameter")
    run.prompt_json.write_text(json.dumps({"prompt": "a hexagonal metal nut"}))
    assert resolve_prompt(run, "metal_nut") == ("a hexagonal metal nut",
                                                f"notebook 01 ({run.prompt_json})")
    run.prompt_json.write_text("{broken")
    p, source = resolve_prompt(run, "metal_nut")
    assert p == "a photo of a metal nut" and "unreadable" in source


def test_load_shots_from_root_and_errors(sample_root, tmp_path):
    x, files, _ = load_shots(sample_root, "brick", 2, 64, workdir=tmp_path)
    assert x.shape == (2, 3, 64, 64) and [f.name for f in files] == ["000.png", "001.png"]
    with pytest.raises(InputError, match="categories found under .*brick"):
        load_shots(sample_root, "no_such", 1, 64, workdir=tmp_path)
    with pytest.raises(InputError, match="fewer than shots=99"):
        load_shots(sample_root, "brick", 99, 64, workdir=tmp_path)
