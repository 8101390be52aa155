"""VQGAN: taming checkpoint layout round trip, clear errors, shapes, quantiser properties."""
from __future__ import annotations

import sys

import pytest
import torch

from tvig import assets
from tvig.errors import AssetError
from tvig.models.vqgan import (
    VQGAN,
    build_vqgan,
    load_vqgan,
    load_vqgan_files,
    read_state_dict,
    write_taming_files,
)
from tvig.profiles import VQGAN_ARCHS, VQGANArch, get_profile

TAMING_KEYS = ("encoder.conv_in.weight", "encoder.down.0.block.0.norm1.weight",
               "encoder.mid.block_1.conv1.weight", "decoder.up.0.block.0.conv1.weight",
               "decoder.conv_out.bias", "quantize.embedding.weight", "quant_conv.weight",
               "post_quant_conv.bias")


@pytest.fixture(scope="module")
def tiny_vq():
    return load_vqgan(get_profile("tiny"))


@pytest.fixture
def ckpt_asset(tmp_path, monkeypatch):
    """A tiny VQGAN (seed 7) saved in taming's layout as a registered asset 'test_vqgan'."""
    monkeypatch.setenv("TVIG_HOME", str(tmp_path / "cache"))
    arch = VQGANArch(**{**VQGAN_ARCHS["tiny"].__dict__, "name": "tiny_ckpt", "asset": "test_vqgan"})
    monkeypatch.setitem(VQGAN_ARCHS, "tiny_ckpt", arch)
    monkeypatch.setitem(assets.REGISTRY, "test_vqgan", assets.Asset(
        "test_vqgan", (assets.AssetFile("model.yaml", ("file:///none",)),
                       assets.AssetFile("last.ckpt", ("file:///none",))), "test", "test VQGAN"))
    src = build_vqgan("tiny", seed=7)
    folder = tmp_path / "cache" / "test_vqgan"
    write_taming_files(src, folder, extra_state={"loss.discriminator.main.0.weight":
                                                 torch.zeros(4, 3, 4, 4),
                                                 "loss.logvar": torch.zeros(())})
    return src, folder, get_profile("tiny", vqgan="tiny_ckpt")


def test_checkpoint_round_trip_through_the_user_path(ckpt_asset):
    src, folder, profile = ckpt_asset
    raw = torch.load(folder / "last.ckpt", weights_only=True)
    assert set(TAMING_KEYS) <= set(raw["state_dict"]) and "loss.logvar" in raw["state_dict"]
    vq = load_vqgan(profile)  # asset cache -> yaml check -> ckpt -> state_dict
    assert isinstance(vq, VQGAN)
    for k, v in src.state_dict().items():
        assert torch.equal(vq.state_dict()[k], v), k
    assert not any(k.startswith("loss.") for k in vq.state_dict())
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(vq(x), src(x))
    # different from the default random init: the weights really came from the file
    assert not torch.equal(vq.quant_conv.weight, build_vqgan("tiny").quant_conv.weight)


def test_missing_asset_names_the_download_command(ckpt_asset):
    _, folder, profile = ckpt_asset
    (folder / "last.ckpt").unlink()
    with pytest.raises(AssetError, match="tvig download test_vqgan"):
        load_vqgan(profile)


def test_not_a_checkpoint_is_named(tmp_path):
    bad = tmp_path / "last.ckpt"
    bad.write_text("this is not a checkpoint")
    with pytest.raises(AssetError, match=r"last\.ckpt is not a PyTorch checkpoint"):
        read_state_dict(bad)
    torch.save({"epoch": 3, "optimizer_states": []}, bad)
    with pytest.raises(AssetError, match="no 'state_dict'"):
        read_state_dict(bad)


def test_checkpoint_of_another_architecture(tmp_path):
    other = VQGANArch(**{**VQGAN_ARCHS["tiny"].__dict__, "name": "tiny128", "n_embed": 128})
    torch.manual_seed(0)
    write_taming_files(VQGAN(other), tmp_path)
    with pytest.raises(AssetError, match=r"n_embed: file 128 vs tiny 64"):
        load_vqgan_files(tmp_path / "model.yaml", tmp_path / "last.ckpt", "tiny")
    with pytest.raises(AssetError, match=r"shape mismatch.*quantize\.embedding\.weight \(128, 16\)"):
        load_vqgan_files(None, tmp_path / "last.ckpt", "tiny")
    sd = {k: v for k, v in build_vqgan("tiny").state_dict().items() if k != "quant_conv.bias"}
    torch.save({"state_dict": sd}, tmp_path / "partial.ckpt")
    with pytest.raises(AssetError, match=r"partial\.ckpt.*missing key\(s\), first: quant_conv\.bias"):
        load_vqgan_files(None, tmp_path / "partial.ckpt", "tiny")


def test_a_pickled_object_of_an_uninstalled_class_is_refused_not_stubbed(tmp_path, monkeypatch):
    """Only the allow-listed Lightning entries are stubbed (tests/test_safe_load.py); any other
    class is refused by name instead of being resolved or imported."""
    (tmp_path / "fakelightning.py").write_text("class ModelCheckpoint:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import fakelightning

    sd = build_vqgan("tiny", seed=3).state_dict()
    torch.save({"state_dict": sd, "callbacks": {"cb": fakelightning.ModelCheckpoint()}},
               tmp_path / "old.ckpt")
    monkeypatch.delitem(sys.modules, "fakelightning")
    (tmp_path / "fakelightning.py").unlink()
    with pytest.raises(AssetError, match=r"old\.ckpt refused: it asks for fakelightning\."
                                         r"ModelCheckpoint"):
        read_state_dict(tmp_path / "old.ckpt")


def test_tiny_shapes_and_range(tiny_vq):
    x = torch.rand(2, 3, 64, 64)
    z = tiny_vq.encode(x)
    assert z.shape == (2, 16, 16, 16) == (2, *tiny_vq.latent_shape(64))
    y = tiny_vq.decode(tiny_vq.quantize(z))
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1


def test_quantize_is_nearest_clamped_code_with_straight_through_grad(tiny_vq):
    codes = tiny_vq.quantizer.embedding.weight  # (64, 16)
    z = torch.randn(1, 16, 4, 4) * 5  # far outside the codebook range
    z.requires_grad_(True)
    zq = tiny_vq.quantize(z)
    lo, hi = tiny_vq.codebook_range()
    rows = zq.detach().permute(0, 2, 3, 1).reshape(-1, 16)
    zc = torch.maximum(torch.minimum(z.detach(), hi), lo).permute(0, 2, 3, 1).reshape(-1, 16)
    assert torch.allclose(rows, codes[torch.cdist(zc, codes).argmin(1)], atol=1e-5)
    (zq * torch.arange(zq.numel()).view_as(zq)).sum().backward()
    assert torch.equal(z.grad, torch.arange(zq.numel()).view_as(zq).float())


def test_paper_architecture_shapes_random_weights():
    vq = build_vqgan("vqgan_imagenet_f16_16384")
    assert vq.quantizer.embedding.weight.shape == (16384, 256)
    assert vq.latent_shape(256) == (256, 16, 16)
    with torch.inference_mode():  # one small forward (the net is convolutional)
        z = vq.encode(torch.rand(1, 3, 64, 64))
        assert z.shape == (1, 256, 4, 4)
        assert vq.decode(vq.quantize(z)).shape == (1, 3, 64, 64)
