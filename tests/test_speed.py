"""Speed knobs change how generation runs, not what it computes.

* bit-identity: autocast on (a no-op on CPU) and micro-batches >= n give exactly the tensors
  of the defaults;
* out-of-memory: a fake ``torch.OutOfMemoryError`` for batches above k makes sampling,
  scoring and optimise split their batch and finish, and fail clearly at batch 1;
* micro-batches accumulate the same gradient as one batch in one step (deterministic
  cutouts), within float tolerance.
"""
from __future__ import annotations

import pytest
import torch
from test_generation import setup  # noqa: F401  (fixture: tiny models, shots, dist0)

from tvig.generator.distribution import draw_images
from tvig.generator.optimisation import optimise
from tvig.integrator.rounds import IntegratorConfig, score_images
from tvig.speed import (
    OutOfMemory,
    SpeedConfig,
    grad_scaler,
    needs_loss_scaling,
    resolve_precision,
    split_on_oom,
    use_autocast,
    use_checkpointing,
)



def run(setup, fn=optimise, **kw):
    """optimise on test_generation's tiny setup, N = 3 by default."""
    p, vq, clip, _, dist0, text, shot_emb = setup
    return fn(vq, clip, dist0, text_emb=text, shot_emb=shot_emb, profile=kw.pop("profile", p),
              n=kw.pop("n", 3), seed=kw.pop("seed", 0), progress=False, **kw)


def same(a, b) -> None:
    assert torch.equal(a.images, b.images) and torch.equal(a.z, b.z)
    assert torch.equal(a.dist.mu, b.dist.mu) and torch.equal(a.dist.sigma, b.dist.sigma)
    assert a.history == b.history


def test_speed_options_do_not_change_what_optimise_computes_on_cpu(setup):
    base = run(setup)
    same(run(setup, speed=SpeedConfig(precision="bf16")), base)  # CPU: always fp32
    same(run(setup, speed=SpeedConfig(micro_batch=3)), base)  # micro-batch >= n: one batch
    same(run(setup, speed=SpeedConfig(micro_batch=8)), base)
    assert run(setup).step_seconds > 0


@pytest.mark.parametrize("capability, auto", [((7, 5), "fp32"), ((8, 0), "bf16"),
                                                ((9, 0), "bf16"), ((6, 1), "fp32")])
def test_precision_follows_the_gpu_capability(monkeypatch, capability, auto):
    """A T4 (7.5) has no native bf16: fp32 there; an A100 (8.0) or H100 (9.0): bf16."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert resolve_precision(SpeedConfig(), "cuda") == auto
    assert use_autocast(None, "cuda") == (auto != "fp32")
    assert resolve_precision(SpeedConfig(precision="fp16"), "cuda") == "fp16"
    assert resolve_precision(SpeedConfig(precision="fp32"), "cuda") == "fp32"
    assert needs_loss_scaling(SpeedConfig(precision="fp16"), "cuda")
    assert not needs_loss_scaling(SpeedConfig(precision="bf16"), "cuda")
    assert not grad_scaler(SpeedConfig(precision="fp16"), "cpu").is_enabled()


def test_a_cpu_is_always_fp32():
    for p in ("auto", "bf16", "fp16"):
        assert resolve_precision(SpeedConfig(precision=p), "cpu") == "fp32"
    assert not use_autocast(None, "cpu")
    with pytest.raises(Exception, match="micro_batch"):
        SpeedConfig(micro_batch=0)
    with pytest.raises(Exception, match="precision"):
        SpeedConfig(precision="fp8")


def test_checkpointing_is_automatic_from_free_memory(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (16 * 2**30, 16 * 2**30))
    kw = dict(cutouts=32, image_size=256)
    assert use_checkpointing(None, "cuda", n=16, **kw)  # paper: ~42 GiB > 16 GiB free
    assert not use_checkpointing(None, "cuda", n=2, **kw)  # ~3 GiB fits
    assert not use_checkpointing(SpeedConfig(checkpoint=False), "cuda", n=16, **kw)
    assert use_checkpointing(SpeedConfig(checkpoint=True), "cpu", n=1, **kw)
    assert not use_checkpointing(None, "cpu", n=16, **kw)


def fake_oom(fn, limit: int, calls: list[int]):
    """fn that raises torch.OutOfMemoryError for batches larger than ``limit``."""
    def wrapped(x, *a, **k):
        calls.append(x.shape[0])
        if x.shape[0] > limit:
            raise torch.OutOfMemoryError("fake: CUDA out of memory")
        return fn(x, *a, **k)
    return wrapped


def test_split_on_oom_halves_and_continues():
    calls: list[int] = []
    x = torch.arange(7.0)[:, None]
    out = split_on_oom(fake_oom(lambda b: b * 2, 2, calls), x)
    assert torch.equal(out, x * 2)
    assert calls == [7, 4, 2, 2, 2, 1]  # 7 fails, 4 fails, then chunks of 2, the last row alone
    with pytest.raises(OutOfMemory, match="one image"):
        split_on_oom(fake_oom(lambda b: b, 0, []), x)


def test_sampling_and_scoring_split_on_oom(setup, monkeypatch):
    p, vq, clip, _, dist0, text, shot_emb = setup
    seeds = [1, 2, 3, 4, 5]
    comps = torch.arange(5) % dist0.k
    want = draw_images(vq, dist0, seeds, comps)
    kw = dict(text_emb=text[0], shot_emb=shot_emb, dist0=dist0, comp=comps,
              config=IntegratorConfig())
    s_want, z_want = score_images(vq, clip, want, **kw)
    dec, enc, img = [], [], []
    monkeypatch.setattr(vq, "decode", fake_oom(vq.decode, 2, dec))
    monkeypatch.setattr(vq, "encode", fake_oom(vq.encode, 1, enc))
    monkeypatch.setattr(clip, "encode_images", fake_oom(clip.encode_images, 2, img))
    got = draw_images(vq, dist0, seeds, comps)
    assert dec == [5, 3, 2, 2, 1]  # 5 and 3 fail; then 2 + 2 + 1 rows
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    s_got, z_got = score_images(vq, clip, got, **kw)
    assert enc == [5, 3, 2, 1, 1, 1, 1, 1] and img == [5, 3, 2, 2, 1]
    torch.testing.assert_close(z_got, z_want, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(s_got.total, s_want.total, atol=1e-4, rtol=1e-4)


def test_optimise_splits_candidates_on_oom(setup, monkeypatch):
    p, vq, clip, *_ = setup
    calls: list[int] = []
    monkeypatch.setattr(vq, "decode", fake_oom(vq.decode, 1, calls))
    res = run(setup, n=4)
    assert calls[0] == 4 and calls[1] == 2  # the step is redone with half, then quarters
    assert res.images.shape[0] == 4 and torch.isfinite(res.images).all()
    assert max(calls[3:]) == 1 and len(res.history["total"]) == p.steps
    monkeypatch.setattr(vq, "decode", fake_oom(vq.decode, 0, []))
    with pytest.raises(OutOfMemory, match="one candidate"):
        run(setup, n=2)


class RecordingAdam(torch.optim.Adam):
    """Adam that keeps a copy of every parameter's gradient at each step."""

    grads: list[list[torch.Tensor]] = []

    def step(self, closure=None):
        RecordingAdam.grads.append([q.grad.detach().clone() for grp in self.param_groups
                                    for q in grp["params"]])
        return super().step(closure)


def test_micro_batches_accumulate_the_same_gradient(setup, monkeypatch):
    """What chunking must preserve: the gradient of ONE step on (mu, log sigma), within float
    tolerance. (Comparing mu after several Adam steps is flaky: Adam divides by sqrt(v), so a
    rounding difference in a tiny gradient becomes a visible one in mu; issue 18 row 8.)"""
    # tiny: image 64 px = CLIP's input, so every cutout is the whole image; with the
    # augmentations off the cutouts are deterministic and chunking may change only rounding.
    p = setup[0].replace(augment_strength=0.0, steps=1)
    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    RecordingAdam.grads = []
    one = run(setup, profile=p, n=4)
    (g_one,) = RecordingAdam.grads
    assert len(g_one) == 2 and all(g.abs().max() > 0 for g in g_one)  # mu and log sigma
    for k in (1, 3):
        RecordingAdam.grads = []
        chunked = run(setup, profile=p, n=4, speed=SpeedConfig(micro_batch=k))
        (g_k,) = RecordingAdam.grads
        for a, b in zip(g_k, g_one):  # float32 sums in another order: relative to the scale
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max()))
        for term in one.history:
            assert chunked.history[term] == pytest.approx(one.history[term], rel=1e-5, abs=1e-6)


def test_autocast_path_runs_in_bf16(setup, monkeypatch):
    """The CUDA autocast path, exercised on CPU with a bf16 CPU autocast stand-in."""
    import tvig.generator.optimisation as gen

    fp32 = run(setup, n=2)
    seen = []

    def cpu_bf16(speed, device):
        seen.append(True)
        return torch.autocast(device_type="cpu", dtype=torch.bfloat16)

    monkeypatch.setattr(gen, "autocast", cpu_bf16)
    res = run(setup, n=2)
    assert seen and res.images.dtype == torch.float32 and torch.isfinite(res.images).all()
    assert all(torch.isfinite(torch.tensor(v)).all() for v in res.history.values())
    assert not torch.equal(res.dist.mu, fp32.dist.mu)  # bf16 really ran ...
    for term in ("text", "image"):  # ... and the first step's loss (before any update) is
        assert res.history[term][0] == pytest.approx(fp32.history[term][0], rel=0.02)  # ~fp32


def test_cli_rejects_bad_micro_batch_before_loading(cli, tmp_path):
    r = cli("generate", "--images", tmp_path / "none.png", "--category", "nut", "--out",
            tmp_path / "out", "--micro-batch", "0")
    assert r.returncode == 2 and "micro_batch must be a positive integer" in r.stderr
    assert not (tmp_path / "out").exists()


def test_activation_checkpointing_gives_the_same_mu(setup):
    """Checkpointing recomputes the same forward: after a few steps mu and sigma agree (CPU)."""
    plain = run(setup, speed=SpeedConfig(checkpoint=False))
    ckpt = run(setup, speed=SpeedConfig(checkpoint=True))
    torch.testing.assert_close(ckpt.dist.mu, plain.dist.mu, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ckpt.dist.sigma, plain.dist.sigma, atol=1e-6, rtol=1e-6)
    assert ckpt.history["total"] == pytest.approx(plain.history["total"], rel=1e-6)
