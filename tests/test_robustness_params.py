"""Issue 9, row 2 (parameters): bad counts, names and devices fail at the CLI with exit code 2,
one line on stderr, no traceback, nothing written and no model loaded or trained; a category
WordNet does not know is a warning plus template prompts, not a crash. (Map: test_robustness.py.)
"""
from __future__ import annotations

import pytest
import torch

from tvig.cli import main

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a model loads or a detector trains."""
    import tvig.detection.grid
    import tvig.models.clip
    import tvig.models.vqgan

    def boom(*a, **k):
        raise AssertionError("long work started before the parameters were checked")

    for mod, name in ((tvig.models.clip, "load_clip"), (tvig.models.vqgan, "load_vqgan"),
                      (tvig.detection.grid, "run_detection")):
        monkeypatch.setattr(mod, name, boom)


def _one_line_error(capsys, argv: list[str], needle: str, out) -> str:
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"tvig {argv[0]}: error: "), err
    assert needle in lines[0] and "Traceback" not in err
    assert not out.exists(), f"{out} was written"
    return lines[0]


GENERATE = [
    (["--n", "0"], "n (number of images) must be a positive integer, got 0"),
    (["--n", "-3"], "must be a positive integer, got -3"),
    (["--rounds", "-1"], "rounds must be a positive integer, got -1"),
    (["--rounds", "0"], "rounds must be a positive integer, got 0"),
    (["--seed", "-1"], "seed must be an integer >= 0"),
    (["--profile", "nope"], "unknown profile 'nope'; valid profiles: fast, paper, tiny"),
    (["--device", "gpu"], "unknown device 'gpu'; valid devices: auto, cpu, cuda"),
    pytest.param(["--device", "cuda"], "no CUDA GPU is available here; use --device cpu",
                 marks=NO_CUDA),
]


@pytest.mark.parametrize("extra,needle", GENERATE)
def test_generate_bad_parameters(extra, needle, sample_root, tmp_path, capsys, no_work):
    out = tmp_path / "out"
    argv = ["generate", "--images", sample_root / "metal_nut" / "train" / "good", "--category",
            "metal_nut", "--out", out, "--profile", "tiny", "--quiet", *extra]
    _one_line_error(capsys, argv, needle, out)


DETECT = [
    (["--shots", "0"], "shots must be a positive integer or 'all', got 0"),
    (["--shots", "-3"], "shots must be a positive integer or 'all', got '-3'"),
    (["--shots", "500"], "shots=500 is larger than the 8 good training images"),
    (["--model", "nope"], "unknown model 'nope'; valid models: anomaly_dino, cflow"),
    (["--dataset", "nope"], "unknown dataset 'nope'; valid datasets: btad, folder, mvtec_ad"),
    (["--category", "nope"], "unknown sample class 'nope'; valid sample classes: brick"),
    (["--profile", "nope"], "unknown profile 'nope'; valid profiles: fast, paper, tiny"),
    (["--seeds", "0", "-1"], "seeds must be integers >= 0, got -1"),
    (["--control", "--n-augment", "0"], "n_augment (augmented images) must be a positive"),
    (["--image-size", "0"], "image size must be a positive integer, got 0"),
    (["--epochs", "0"], "epochs must be a positive integer, got 0"),
    (["--device", "tpu"], "unknown device 'tpu'; valid devices: auto, cpu, cuda, gpu"),
    pytest.param(["--device", "cuda"], "no CUDA GPU is available here", marks=NO_CUDA),
    pytest.param(["--device", "gpu"], "no CUDA GPU is available here", marks=NO_CUDA),
]


@pytest.mark.parametrize("extra,needle", DETECT)
def test_detect_bad_parameters(extra, needle, sample_root, tmp_path, capsys, no_work):
    out = tmp_path / "det"
    argv = ["detect", "--data", sample_root, "--dataset", "sample", "--category", "brick",
            "--profile", "tiny", "--out", out, *extra]
    if "--category" in extra:
        argv[argv.index("brick") - 1:argv.index("brick") + 1] = []
    _one_line_error(capsys, argv, needle, out)


def test_grid_shots_too_few_for_the_model(sample_root, tmp_path, capsys, no_work):
    out = tmp_path / "det"
    _one_line_error(capsys, ["detect", "--data", sample_root, "--dataset", "sample",
                             "--category", "brick", "--shots", "1", "--model", "padim",
                             "--profile", "tiny", "--out", out],
                    "padim needs at least 2 training images; the real train set with k=1", out)


def test_the_real_process_gives_the_same_single_line(run_cli, sample_root, tmp_path):
    out = tmp_path / "out"
    r = run_cli("generate", "--images", sample_root / "metal_nut" / "train" / "good",
                "--category", "metal_nut", "--out", out, "--profile", "tiny", "--n", "0")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == ("tvig generate: error: n (number of images) must be a positive "
                                "integer, got 0")
    assert not out.exists()


def test_category_wordnet_does_not_know_notes_once_and_uses_templates(sample_root, tmp_path, tiny,
                                                                     recwarn):
    """Also issue 18 row 7: the note prints once (no Python warning repeating it)."""
    from tvig.pipeline import generate

    lines: list[str] = []
    profile = tiny.replace(steps=1, candidates=2, keep=1, n_augment=1)
    shots = sorted((sample_root / "metal_nut" / "train" / "good").glob("*.png"))[:1]
    res = generate(shots, "zzqxfoo", tmp_path / "out", profile=profile, n=1, rounds=1,
                   device="cpu", progress=False, log=lines.append)
    assert not [w for w in recwarn if "not in WordNet" in str(w.message)]
    assert sum("not in WordNet" in s for s in lines) == 1
    assert res.prompt in ("a photo of a zzqxfoo", "zzqxfoo")  # template prompts only
    assert any(s.startswith("note: keyword 'zzqxfoo'") and "not in WordNet" in s for s in lines)
    assert [p.name for p in res.images_dir.iterdir()] == ["img_0000.png"]
