"""The integrator with the tiny (random-weight) models: selection, merge, records, round resume,
and the output-set plan."""
from __future__ import annotations

import pytest
import torch

from tvig.errors import ConfigError, InputError
from tvig.integrator.rounds import IntegratorConfig, RoundRecord, derive_seed, integrate
from tvig.integrator.scoring import merge_latents, score_terms, top_m
from tvig.integrator.writer import check_out_folder, plan_set, start_run


@pytest.fixture(scope="module")
def fast_tiny(tiny):
    return tiny.replace(steps=2)  # fewer optimisation steps: same code path, faster


@pytest.fixture(scope="module")
def models(tiny, sample_root):
    from tvig.generator import latent_stats
    from tvig.images import load_images
    from tvig.models.clip import load_clip
    from tvig.models.vqgan import load_vqgan

    shots, _ = load_images(sample_root / "metal_nut" / "train" / "good", size=tiny.image_size)
    shots = shots[:2]
    clip, vqgan = load_clip(tiny), load_vqgan(tiny)
    with torch.no_grad():
        shot_emb = clip.encode_images(shots)
    text_emb = clip.encode_texts(["a photo of a metal nut"])[0]
    dist0 = latent_stats(vqgan, shots, tiny, seed=0)
    return dict(vqgan=vqgan, clip=clip, dist0=dist0, shot_emb=shot_emb, text_emb=text_emb,
                shots=shots)


@pytest.fixture(scope="module")
def run(models, fast_tiny):
    cfg = IntegratorConfig.from_profile(fast_tiny, rounds=2, candidates=4, keep=2, c=0.5)
    res = integrate(models["vqgan"], models["clip"], models["dist0"], text_emb=models["text_emb"],
                    shot_emb=models["shot_emb"], profile=fast_tiny, config=cfg, seed=3, progress=False)
    return cfg, res


def test_each_round_keeps_exactly_the_top_m_by_the_combined_score(run, models):
    cfg, res = run
    assert len(res.records) == cfg.rounds
    for rec in res.records:
        assert rec.candidates.shape == (cfg.candidates, 3, 64, 64)
        assert rec.candidates.dtype == torch.uint8
        assert int(rec.kept.sum()) == cfg.keep
        s = rec.scores
        # the combined score is recomputed from the terms with the config's weights
        assert torch.allclose(s.total, cfg.a * s.text + cfg.b * s.img - cfg.c * s.latent, atol=1e-6)
        kept, dropped = s.total[rec.kept], s.total[~rec.kept]
        assert kept.min() >= dropped.max()
        assert rec.order.tolist() == top_m(s.total, cfg.keep).tolist()


def test_scores_are_recomputable_from_the_saved_candidates(run, models):
    cfg, res = run
    rec = res.records[0]
    m = models
    with torch.no_grad():
        x = rec.images()
        emb = m["clip"].encode_images(x)
        z = m["vqgan"].encode(x)
    s = score_terms(emb, m["text_emb"], m["shot_emb"], z, m["dist0"].mu, m["dist0"].sigma,
                    a=cfg.a, b=cfg.b, c=cfg.c)
    assert torch.allclose(s.total, rec.scores.total, atol=1e-4)
    assert torch.allclose(z, rec.z, atol=1e-4)


def test_merge_updates_mu_sigma_from_the_kept_latents(run, models):
    cfg, res = run
    d0 = models["dist0"]
    for rec in res.records:
        mu, sigma = merge_latents(d0.mu, d0.sigma, rec.z[rec.order], weight=cfg.merge_weight,
                                  sigma_floor=cfg.sigma_floor)
        assert torch.allclose(rec.mu, mu) and torch.allclose(rec.sigma, sigma)
        assert (rec.sigma >= cfg.sigma_floor).all()
        assert not torch.allclose(rec.mu, d0.mu)  # the kept candidates moved it
    assert torch.equal(res.mu, res.records[-1].mu)


def test_result_pools_kept_images_best_first(run):
    cfg, res = run
    assert res.images.shape == (cfg.rounds * cfg.keep, 3, 64, 64)
    assert res.scores.total.tolist() == sorted(res.scores.total.tolist(), reverse=True)
    for img, (r, seed, cand), total in zip(res.images, res.origin, res.scores.total):
        rec = res.records[r - 1]
        assert seed == rec.seed == derive_seed(3, "round", r)
        assert torch.equal(img, rec.candidates[cand].float() / 255.0)
        assert float(total) == float(rec.scores.total[cand])


def test_round_checkpoints_resume_to_the_same_records(models, fast_tiny, tmp_path):
    cfg = IntegratorConfig.from_profile(fast_tiny, rounds=2, candidates=2, keep=1)
    kw = dict(text_emb=models["text_emb"], shot_emb=models["shot_emb"], profile=fast_tiny, config=cfg,
              seed=5, progress=False)
    m = models

    def crash(event, info):
        if info["round"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        integrate(m["vqgan"], m["clip"], m["dist0"], state_dir=tmp_path, callback=crash, **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["round_01.pt"]
    resumed = integrate(m["vqgan"], m["clip"], m["dist0"], state_dir=tmp_path, **kw)
    fresh = integrate(m["vqgan"], m["clip"], m["dist0"], **kw)
    for a, b in zip(resumed.records, fresh.records):
        assert torch.equal(a.candidates, b.candidates) and torch.equal(a.mu, b.mu)
        assert torch.equal(a.scores.total, b.scores.total)
    loaded = RoundRecord.load(tmp_path / "round_02.pt")
    assert torch.equal(loaded.kept, fresh.records[1].kept)


def test_config_rejects_bad_values(tiny):
    with pytest.raises(ConfigError, match="keep"):
        IntegratorConfig(candidates=2, keep=3)
    with pytest.raises(ConfigError, match="merge_weight"):
        IntegratorConfig.from_profile(tiny, merge_weight=2.0)
    with pytest.raises(ConfigError, match="rounds"):
        IntegratorConfig.from_profile(tiny, rounds=0)
    with pytest.raises(ConfigError, match="unknown"):
        IntegratorConfig.from_profile(tiny, roundz=2)


def test_derive_seed_is_stable_and_distinct():
    assert derive_seed(0, "round", 1) == derive_seed(0, "round", 1)
    seeds = {derive_seed(s, "round", r) for s in range(5) for r in range(5)}
    assert len(seeds) == 25 and all(0 <= s < 2**31 for s in seeds)


def test_plan_set_kept_first_then_sampled_with_own_seeds():
    origin = [(1, 11, 2), (2, 22, 0), (1, 11, 0)]
    items = plan_set(kept=3, n=5, rounds=2, origin=origin, seed=7)
    assert [i.source for i in items] == ["kept"] * 3 + ["sampled"] * 2
    assert [(i.round, i.seed, i.candidate) for i in items[:3]] == origin
    assert [i.seed for i in items[3:]] == [derive_seed(7, "sample", 0), derive_seed(7, "sample", 1)]
    assert [i.file for i in items] == [f"img_{k:04d}.png" for k in range(5)]
    short = plan_set(kept=3, n=2, rounds=2, origin=origin, seed=7)
    assert [(i.round, i.candidate) for i in short] == [(1, 2), (2, 0)]  # best two kept


def test_out_folder_guard(tmp_path):
    key = {"seed": 0, "n": 4}
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        check_out_folder(f, key)
    start_run(tmp_path / "run", key)
    check_out_folder(tmp_path / "run", key)  # same run: resume is fine
    with pytest.raises(InputError, match="different run.*seed"):
        check_out_folder(tmp_path / "run", {"seed": 1, "n": 4})
