"""The few-shot reference detectors (AnomalyDINO, WinCLIP) and the user's own timm backbone."""
import shutil

import pytest

import tvig.detection.run as run_module
from tvig import atomic
from tvig.cli import main
from tvig.detection.backbones import backbone_weights_cached, cached_backbones
from tvig.detection.detectors import build_detector

TINY = ("--profile", "tiny", "--seeds", "0")


@pytest.fixture
def built(monkeypatch):
    """Every anomalib model the runs build, in order (to look inside after the run)."""
    models = []
    real = run_module.build_detector

    def spy(*a, **k):
        model, info = real(*a, **k)
        models.append(model)
        return model, info

    monkeypatch.setattr(run_module, "build_detector", spy)
    return models


@pytest.fixture
def generated(sample_root, tmp_path):
    """Three stand-in "generated" images, without a manifest (so --allow-other-shots)."""
    gen = tmp_path / "gen"
    gen.mkdir()
    for i, f in enumerate(sorted((sample_root / "brick" / "train" / "good").glob("*.png"))[:3]):
        shutil.copy(f, gen / f"gen_{i}.png")
    return gen


def images_seen(name: str, model) -> int:
    """Training images in the model's memory bank / reference set after the run."""
    if name == "winclip":  # every reference was encoded (k_shot is only the count asked for)
        return model.model.visual_embeddings[0].shape[0]
    return model.model.memory_bank.shape[0] // 16  # 64 px -> 56 px crop -> 4 x 4 patches


@pytest.mark.parametrize("name", ["anomaly_dino", "winclip"])
def test_few_shot_models_run_all_three_sets_on_stand_ins(name, sample_root, generated, tmp_path,
                                                         built, capsys):
    out = tmp_path / "out"
    assert main(["detect", "--data", str(sample_root), "--dataset", "sample", "--category",
                 "brick", "--shots", "1", "--model", name, "--generated", str(generated),
                 "--allow-other-shots", "--control", "--n-augment", "2", "--out", str(out), *TINY]) == 0
    rows = atomic.read_csv(out / "results.csv")
    assert [r["train_set"] for r in rows] == ["real", "generated", "augmented"]
    assert [int(r["n_train"]) for r in rows] == [1, 4, 3]
    assert all(r["pretrained"] == "False" and r["model"] == name for r in rows)
    assert "NOT meaningful" in capsys.readouterr().out
    # the generated (and augmented) images reached the memory bank / the reference set
    assert [images_seen(name, m) for m in built] == [1, 4, 3]


@pytest.mark.parametrize("backbone, layers, label", [
    pytest.param("resnet34", ["layer2", "layer3"], "resnet34:layer2+layer3",
                 marks=pytest.mark.slow),
    ("tf_efficientnet_lite0", None, "tf_efficientnet_lite0:blocks.2+blocks.4"),  # by stride
])
def test_patchcore_on_another_timm_backbone(backbone, layers, label, sample_root, tmp_path,
                                            capsys):
    out = tmp_path / "out"
    args = ["detect", "--data", str(sample_root), "--dataset", "sample", "--category", "brick",
            "--shots", "1", "--model", "patchcore", "--backbone", backbone, "--out", str(out),
            *TINY] + (["--layers", *layers] if layers else [])
    assert main(args) == 0
    assert f"backbone weights ({backbone}) are not available offline" in capsys.readouterr().out
    rows = atomic.read_csv(out / "results.csv")
    assert [(r["backbone"], r["pretrained"]) for r in rows] == [(label, "False")]
    assert main(args) == 0 and len(atomic.read_csv(out / "results.csv")) == 1  # resumes
    assert "nothing new to run" in capsys.readouterr().out


def test_wrong_backbone_or_layer_fails_before_anything(sample_root, tmp_path, capsys,
                                                       monkeypatch):
    from anomalib.engine import Engine

    monkeypatch.setattr(Engine, "fit", lambda *a, **k: pytest.fail("training started"))
    base = ["detect", "--data", str(sample_root), "--dataset", "sample", "--category", "brick",
            "--shots", "1", "--out", str(tmp_path / "out"), *TINY]
    assert main(base + ["--model", "patchcore", "--backbone", "resnet34", "--layers",
                        "layer2", "layer9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("backbone resnet34 has no layer 'layer9'; valid layers: act1 "
                            "layer1 layer2 layer3 layer4")
    assert main(base + ["--model", "padim", "--backbone", "tf_efficientnet_lite0",
                        "--layers", "layer2"]) == 2
    assert "valid layers: blocks.0 blocks.1 blocks.2 blocks.4 blocks.6" in capsys.readouterr().err
    assert main(base + ["--model", "patchcore", "--backbone", "resnet_nope"]) == 2
    assert "unknown timm backbone 'resnet_nope'" in capsys.readouterr().err
    assert main(base + ["--model", "winclip", "--backbone", "resnet34"]) == 2
    assert "winclip keeps its own network" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written


def test_padim_feature_count_follows_the_layers():
    model, info = build_detector("padim", image_size=64, pretrained=False,
                                 backbone="tf_efficientnet_lite0")
    assert model.model.layers == ["blocks.1", "blocks.2", "blocks.4"]  # strides 4, 8, 16
    assert model.model.n_features == round((24 + 40 + 112) * 100 / 448)
    model, info = build_detector("padim", image_size=64, pretrained=False)
    assert model.model.n_features == 100 and info.backbone == "resnet18"  # anomalib's default


def place_in_hf_cache(cache, repo: str, state_dict) -> None:
    """The Hugging Face Hub cache layout timm reads offline: refs/main -> snapshots/<sha>/."""
    from safetensors.torch import save_file

    sha = "0123456789abcdef0123456789abcdef01234567"
    d = cache / ("models--" + repo.replace("/", "--"))
    (d / "refs").mkdir(parents=True)
    (d / "refs" / "main").write_text(sha)
    (d / "snapshots" / sha).mkdir(parents=True)
    save_file(state_dict, str(d / "snapshots" / sha / "model.safetensors"))


def test_cached_backbone_weights_are_used(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants
    import timm
    import torch

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert not backbone_weights_cached("test_resnet") and cached_backbones() == []
    torch.manual_seed(123)
    weights = timm.create_model("test_resnet", pretrained=False).state_dict()
    place_in_hf_cache(tmp_path / "hub", "timm/test_resnet.r160_in1k", weights)
    assert backbone_weights_cached("test_resnet")
    assert cached_backbones() == ["test_resnet.r160_in1k"]
    model, info = build_detector("patchcore", image_size=64, backbone="test_resnet")
    assert info.pretrained is True and info.note == ""
    loaded = model.model.feature_extractor.feature_extractor.state_dict()
    assert torch.equal(loaded["layer2.0.conv1.weight"], weights["layer2.0.conv1.weight"])
    assert main(["assets"]) == 0
    assert "test_resnet.r160_in1k" in capsys.readouterr().out


def test_readme_lists_every_detector_with_its_anchor():
    import re
    from pathlib import Path

    from tvig.detection.detectors import DETECTORS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in readme.splitlines()
            if line.startswith("| `")}
    for name, spec in DETECTORS.items():
        assert name in rows, name
        number, arxiv = spec.anchor.split()[0], re.search(r"arXiv (\d{4}\.\d{5})", spec.anchor)[1]
        assert number in rows[name] and arxiv in rows[name], (name, spec.anchor)
