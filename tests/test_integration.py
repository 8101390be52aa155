"""The integrator with the tiny (random-weight) models: selection, merge, records, round resume,
and the output-set plan."""
from __future__ import annotations

import pytest
import torch

from tvig.augmentations import rules_for
from tvig.errors import ConfigError, InputError
from tvig.integrator.pool import POOLED, RAW, select_from_pool
from tvig.integrator.rounds import IntegratorConfig, RoundRecord, derive_seed, integrate
from tvig.integrator.scoring import merge_latents, score_terms, top_m
from tvig.integrator.writer import check_out_folder, kept_of, plan_set, start_run


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
    dist0 = latent_stats(vqgan, shots, tiny, seed=0, rules=rules_for("metal_nut"))
    return dict(vqgan=vqgan, clip=clip, dist0=dist0, shot_emb=shot_emb, text_emb=text_emb,
                shots=shots)


@pytest.fixture(scope="module")
def run(models, fast_tiny):
    cfg = IntegratorConfig.from_profile(fast_tiny, rounds=2, candidates=4, keep=2, c=0.5)
    res = integrate(models["vqgan"], models["clip"], models["dist0"], text_emb=models["text_emb"],
                    shots=models["shots"], shot_emb=models["shot_emb"], profile=fast_tiny,
                    config=cfg, seed=3, progress=False, rules=rules_for("metal_nut"))
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
    comp = rec.components
    assert comp.tolist() == [0, 1, 0, 1]  # candidates round-robin over the 2 shots
    s = score_terms(emb, m["text_emb"], m["shot_emb"], z, m["dist0"].mu[comp],
                    m["dist0"].sigma[comp], a=cfg.a, b=cfg.b, c=cfg.c,
                    round_trip=m["dist0"].round_trip[comp])
    assert torch.allclose(s.total, rec.scores.total, atol=1e-4)
    assert torch.allclose(z, rec.z, atol=1e-4)


def test_merge_updates_mu_sigma_from_the_kept_latents(run, models):
    cfg, res = run
    d0 = models["dist0"]
    for rec in res.records:
        mu, sigma = merge_latents(d0.mu, d0.sigma, rec.z[rec.order], weight=cfg.merge_weight,
                                  sigma_floor=cfg.sigma_floor,
                                  kept_comp=rec.components[rec.order])
        assert torch.allclose(rec.mu, mu) and torch.allclose(rec.sigma, sigma)
        assert (rec.sigma >= cfg.sigma_floor).all()
        moved = rec.components[rec.order].unique()
        assert not torch.allclose(rec.mu[moved], d0.mu[moved])  # the kept candidates moved it
    assert torch.equal(res.dist.mu, res.records[-1].mu)


def test_each_round_records_its_diversity_relative_to_the_augmentations(run):
    _, res = run
    assert res.reference["clip"] > 0 and res.reference["pixel"] > 0
    for rec in res.records:
        assert set(rec.diversity) == {"clip", "pixel", "clip_rel", "pixel_rel"}
        assert rec.diversity["pixel_rel"] == pytest.approx(
            rec.diversity["pixel"] / res.reference["pixel"])


def test_result_pools_kept_images_best_first(run):
    cfg, res = run
    assert res.images.shape == (cfg.rounds * cfg.keep, 3, 64, 64)
    assert res.scores.total.tolist() == sorted(res.scores.total.tolist(), reverse=True)
    for img, (r, seed, cand), comp, total in zip(res.images, res.origin, res.components,
                                                  res.scores.total):
        rec = res.records[r - 1]
        assert comp == int(rec.components[cand])
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


def test_pool_written_draws_score_at_least_as_high_as_unwritten(run, models, fast_tiny):
    cfg, res = run
    m = models
    kw = dict(profile=fast_tiny, seed=3, text_emb=m["text_emb"], shot_emb=m["shot_emb"],
              config=cfg, progress=False)
    pool = select_from_pool(m["vqgan"], m["clip"], res, need=3, **kw)
    assert pool.path == POOLED and pool.size == 3 * fast_tiny.oversample
    w = pool.written()
    assert int(w.sum()) == 3 and pool.scores.total[w].min() >= pool.scores.total[~w].max()
    assert pool.components.tolist() == [j % 2 for j in range(pool.size)]
    items = plan_set(n=len(res.scores) + 3, kept=kept_of(res, cfg.candidates), pool=pool,
                     rounds=cfg.rounds)
    assert [i.source for i in items] == ["kept"] * len(res.scores) + [POOLED] * 3
    assert [i.rank for i in items[-3:]] == [1, 2, 3]
    assert {i.pool_size for i in items[-3:]} == {pool.size}
    assert all(i.pool_size == cfg.candidates for i in items[:len(res.scores)])
    again = select_from_pool(m["vqgan"], m["clip"], res, need=3, **kw)
    assert torch.equal(again.images, pool.images)  # the draws have their own seeds
    raw = select_from_pool(m["vqgan"], m["clip"], res, need=3,
                           **{**kw, "profile": fast_tiny.replace(raw_draws=True)})
    assert raw.path == RAW and raw.size == 3 and raw.order.tolist() == [0, 1, 2]


def test_plan_set_kept_first_best_first():
    from tvig.integrator.scoring import Scores

    s = Scores(*(torch.tensor([0.9, 0.5, 0.2]) for _ in range(4)))
    kept = (torch.zeros(3, 3, 4, 4, dtype=torch.uint8), s, [(1, 11, 2), (2, 22, 0), (1, 11, 0)],
            [0, 1, 0], [1, 1, 2], 4)
    items = plan_set(n=2, kept=kept)
    assert [(i.round, i.candidate, i.component, i.rank) for i in items] == [(1, 2, 0, 1),
                                                                              (2, 0, 1, 1)]
    with pytest.raises(InputError, match="pool"):
        plan_set(n=5, kept=kept)


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
