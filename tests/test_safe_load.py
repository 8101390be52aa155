"""Loading a checkpoint never runs code from it (issue 17): weights_only=True + stub allow-list."""
from __future__ import annotations

import os

import pytest
import torch

from tvig.errors import AssetError
from tvig.integrator.rounds import RoundRecord
from tvig.integrator.scoring import Scores
from tvig.models.vqgan import build_vqgan, read_state_dict
from tvig.safe_load import load_checkpoint


class WritesAFile:
    """A pickle gadget: unpickling it calls os.system, which writes ``target``."""

    def __init__(self, target) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def lightning_checkpoint(state_dict: dict) -> dict:
    """What Lightning writes: callbacks keyed by class (1.x) and by name, optimizer and scheduler
    states, hyper-parameters as AttributeDict and as omegaconf containers."""
    from lightning.fabric.utilities.data import AttributeDict
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from omegaconf import OmegaConf
    from pytorch_lightning.callbacks.model_checkpoint import (
        ModelCheckpoint as OldModelCheckpoint,
    )
    from pytorch_lightning.utilities.parsing import AttributeDict as OldAttributeDict

    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([p], lr=4.5e-6)
    p.sum().backward()
    opt.step()
    return {"epoch": 5, "global_step": 1000, "pytorch-lightning_version": "1.0.8",
            "callbacks": {OldModelCheckpoint: {"monitor": "val/rec_loss",
                                               "best_model_score": torch.tensor(0.25),
                                               "best_model_path": "logs/last.ckpt"},
                          ModelCheckpoint: {"dirpath": "x"}, EarlyStopping: {"wait_count": 0}},
            "optimizer_states": [opt.state_dict()],
            "lr_schedulers": [{"last_epoch": 3, "_last_lr": [0.1]}],
            "state_dict": state_dict,
            "hparams_name": "kwargs",
            "hyper_parameters": AttributeDict(embed_dim=16, ddconfig={"ch": 32}),
            "old_hparams": OldAttributeDict(lr=0.1),
            "config": OmegaConf.create({"model": {"params": {"n_embed": 64, "ch_mult": [1, 2]}}})}


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    target = tmp_path / "pwned"
    ckpt = tmp_path / "last.ckpt"
    torch.save({"state_dict": build_vqgan("tiny").state_dict(), "x": WritesAFile(target)}, ckpt)
    with pytest.raises(AssetError) as e:
        read_state_dict(ckpt, asset="vqgan_imagenet_f16_16384")
    msg = str(e.value)
    assert "\n" not in msg and str(ckpt) in msg and "posix.system" in msg
    assert "tvig download --force vqgan_imagenet_f16_16384" in msg
    assert not target.exists()
    # the unsafe path would have run it: the gadget is real
    torch.load(ckpt, weights_only=False)
    assert target.exists()


def test_an_unknown_class_is_refused_by_name(tmp_path, monkeypatch):
    (tmp_path / "someplugin.py").write_text("class Hook:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import someplugin

    torch.save({"state_dict": {}, "callbacks": {"cb": someplugin.Hook()}}, tmp_path / "x.ckpt")
    with pytest.raises(AssetError, match=r"x\.ckpt refused: it asks for someplugin\.Hook"):
        load_checkpoint(tmp_path / "x.ckpt")


def test_a_real_format_lightning_checkpoint_loads(tmp_path):
    sd = {**build_vqgan("tiny", seed=3).state_dict(), "loss.logvar": torch.zeros(())}
    torch.save(lightning_checkpoint(sd), tmp_path / "last.ckpt")
    raw = load_checkpoint(tmp_path / "last.ckpt")
    assert raw["hyper_parameters"] == {"embed_dim": 16, "ddconfig": {"ch": 32}}
    assert raw["optimizer_states"][0]["param_groups"][0]["lr"] == 4.5e-6
    (best,) = [v["best_model_score"] for k, v in raw["callbacks"].items()
               if k.__name__ == "ModelCheckpoint" and "monitor" in v]
    assert float(best) == 0.25
    loaded = read_state_dict(tmp_path / "last.ckpt")
    assert "loss.logvar" not in loaded
    assert torch.equal(loaded["quant_conv.weight"], sd["quant_conv.weight"])


@pytest.mark.parametrize("content", [b"", b"<!DOCTYPE html><html><body>Sign in</body></html>",
                                     "truncated"])
def test_empty_html_truncated_checkpoints_are_one_line(tmp_path, content):
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": build_vqgan("tiny").state_dict()}, good)
    if content == "truncated":
        content = good.read_bytes()[: good.stat().st_size // 2]
    bad = tmp_path / "last.ckpt"
    bad.write_bytes(content)
    with pytest.raises(AssetError) as e:
        read_state_dict(bad, asset="vq")
    assert "\n" not in str(e.value) and str(bad) in str(e.value)
    assert "tvig download --force vq" in str(e.value)


def _record() -> RoundRecord:
    n = 3
    s = Scores(torch.rand(n), torch.rand(n), torch.rand(n), torch.rand(n))
    return RoundRecord(round=2, seed=11, candidates=torch.randint(0, 255, (n, 3, 8, 8),
                                                                  dtype=torch.uint8),
                       scores=s, kept=torch.tensor([True, False, True]),
                       order=torch.tensor([2, 0]), z=torch.randn(n, 4, 2, 2),
                       mu=torch.randn(4, 2, 2), sigma=torch.rand(4, 2, 2),
                       history={"loss": [1.0, 0.5]}, step_seconds=0.25)


def test_round_checkpoints_round_trip_with_weights_only(tmp_path):
    rec = _record()
    rec.save(tmp_path / "round_02.pt")
    torch.load(tmp_path / "round_02.pt", weights_only=True)  # plain torch agrees: no pickled code
    back = RoundRecord.load(tmp_path / "round_02.pt")
    assert (back.round, back.seed, back.history, back.step_seconds) == (2, 11, {"loss": [1.0, 0.5]},
                                                                       0.25)
    assert torch.equal(back.scores.total, rec.scores.total) and torch.equal(back.z, rec.z)


def test_a_crafted_round_checkpoint_is_refused(tmp_path):
    target = tmp_path / "pwned"
    torch.save({"round": 1, "x": WritesAFile(target)}, tmp_path / "round_01.pt")
    with pytest.raises(AssetError, match=r"round_01\.pt refused.*delete it and rerun"):
        RoundRecord.load(tmp_path / "round_01.pt")
    assert not target.exists()
