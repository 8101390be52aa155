"""Variance-aware generator: KL closed form, gradients, loss decrease, determinism, diversity."""
from __future__ import annotations

import math
import statistics

import pytest
import torch

from tvig.augmentations import rules_for
from tvig.errors import ConfigError, NumericsError
from tvig.generator import (
    LatentDist,
    components,
    kl_divergence,
    latent_stats,
    optimise,
    sample,
    sample_images,
)
from tvig.generator.guidance import Cutouts, spherical_distance
from tvig.generator.metrics import diversity, similarity
from tvig.profiles import get_profile


@pytest.fixture(scope="module")
def setup():
    from tvig.models.clip import load_clip
    from tvig.models.vqgan import load_vqgan

    p = get_profile("tiny")
    vq, clip = load_vqgan(p), load_clip(p)
    shots = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    dist0 = latent_stats(vq, shots, p, seed=0)
    text = clip.encode_texts(["a photo of a metal nut"])
    with torch.no_grad():
        shot_emb = clip.encode_images(shots)
    return p, vq, clip, shots, dist0, text, shot_emb


def run(setup, **kw):
    p, vq, clip, _, dist0, text, shot_emb = setup
    prof = p.replace(**kw.pop("profile", {}))
    return optimise(vq, clip, kw.pop("dist0", dist0), text_emb=text, shot_emb=shot_emb,
                    profile=prof, n=kw.pop("n", 3), seed=kw.pop("seed", 0), progress=False, **kw)


def test_kl_closed_form_known_values():
    one = torch.ones(4)
    # KL(N(1, 2^2) || N(0, 1)) = log(1/2) + (4 + 1)/2 - 1/2
    assert kl_divergence(one, 2 * one, 0 * one, one).item() == pytest.approx(2 - math.log(2))
    # KL(N(0, 1) || N(0, 2^2)) = log 2 + 1/8 - 1/2
    assert kl_divergence(0 * one, one, 0 * one, 2 * one).item() == pytest.approx(
        math.log(2) - 0.375)
    mu, mu0 = torch.randn(3, 4, 4), torch.randn(3, 4, 4)
    s, s0 = torch.rand(3, 4, 4) + 0.1, torch.rand(3, 4, 4) + 0.1
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu, s),
                                            torch.distributions.Normal(mu0, s0)).mean()
    assert kl_divergence(mu, s, mu0, s0).item() == pytest.approx(ref.item(), rel=1e-5)
    assert kl_divergence(mu, s, mu, s).item() == pytest.approx(0.0, abs=1e-7)


def test_spherical_distance_known_angles():
    e = torch.eye(3)
    assert spherical_distance(e[0], e[1]).item() == pytest.approx(math.pi ** 2 / 8)
    assert spherical_distance(e[0], -e[0]).item() == pytest.approx(math.pi ** 2 / 2)
    assert spherical_distance(e[:2], e[0]).tolist() == pytest.approx([0, math.pi ** 2 / 8])


def test_cutouts_shape_and_batch_order():
    x = torch.zeros(2, 3, 96, 96)
    x[1] = 1  # image 1 is white: every row c*B + 1 must come from it
    out = Cutouts(size=32, cutouts=5, cut_pow=1.0, strength=0.0)(x)
    assert out.shape == (10, 3, 32, 32)
    rows = out.view(5, 2, -1)
    assert torch.allclose(rows[:, 1], torch.ones(())) and torch.allclose(rows[:, 0], torch.zeros(()))


def test_latent_stats_shapes_floor_and_k1(setup):
    p, vq, _, shots, dist0, _, _ = setup
    assert dist0.k == 2 and dist0.mu.shape == dist0.sigma.shape == (2, 16, 16, 16)
    assert dist0.sigma.min() >= p.sigma_floor and dist0.round_trip.shape == (2,)
    one = latent_stats(vq, shots[:1], p, seed=0, rules=rules_for("carpet"))  # k = 1
    assert one.k == 1 and (one.sigma > p.sigma_floor).float().mean() > 0.5  # augmentations spread
    again = latent_stats(vq, shots[:1], p, seed=0, rules=rules_for("carpet"))
    assert torch.equal(one.mu, again.mu) and torch.equal(one.sigma, again.sigma)
    floored = latent_stats(vq, shots[:1], p.replace(sigma_floor=10.0), seed=0)
    assert torch.all(floored.sigma == 10.0)


@pytest.fixture(scope="module")
def three(setup):
    p, vq, clip, _, _, text, _ = setup
    shots = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    return shots, latent_stats(vq, shots, p, seed=0, rules=rules_for("metal_nut"))


def test_k3_mu0_decodes_to_each_shots_own_reconstruction(setup, three):
    _, vq, _, _, _, _, _ = setup
    shots, d = three
    assert d.k == 3
    with torch.no_grad():
        recon = vq.decode(vq.quantize(vq.encode(shots)))  # (3, 3, 64, 64)
        from_mu0 = vq.decode(vq.quantize(d.mu))
        blend = vq.decode(vq.quantize(d.mu.mean(0, keepdim=True)))
    assert torch.allclose(from_mu0, recon, atol=1e-5)
    for j in range(3):  # each component is its own shot, not a blend of them
        assert (from_mu0[j] - recon[j]).abs().max() < (blend[0] - recon[j]).abs().max()


def test_k3_each_candidate_belongs_to_its_shots_component(setup, three):
    p, vq, clip, _, _, text, _ = setup
    shots, d = three
    assert components(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert components(4, 3, offset=4).tolist() == [1, 2, 0, 1]
    tight = LatentDist(d.mu, torch.full_like(d.sigma, 1e-6))
    z = sample(tight, 5, seed=0)
    assert torch.allclose(z, d.mu[[0, 1, 2, 0, 1]], atol=1e-4)
    with torch.no_grad():
        emb = clip.encode_images(shots)
    res = optimise(vq, clip, d, text_emb=text, shot_emb=emb, profile=p.replace(steps=1), n=5,
                   seed=0, progress=False)
    assert res.components.tolist() == [0, 1, 2, 0, 1] and res.dist.k == 3


def test_mu_stays_in_codebook_range_and_sigma_above_rho_sigma0(setup, three):
    p, vq, clip, _, _, text, _ = setup
    shots, d = three
    with torch.no_grad():
        emb = clip.encode_images(shots)
    prof = p.replace(steps=4, lr=1.0, rho=0.9)  # a large step: without the bounds both break
    res = optimise(vq, clip, d, text_emb=text, shot_emb=emb, profile=prof, n=3, seed=0,
                   progress=False)
    lo, hi = vq.codebook_range()
    assert torch.all(res.dist.mu >= lo - 1e-6) and torch.all(res.dist.mu <= hi + 1e-6)
    assert torch.all(res.dist.sigma >= 0.9 * d.sigma * (1 - 1e-5))
    assert not torch.equal(res.dist.sigma, d.sigma)  # it did move
    free = optimise(vq, clip, d, text_emb=text, shot_emb=emb, profile=prof.replace(rho=0.0),
                    n=3, seed=0, progress=False)
    assert bool((free.dist.sigma < 0.9 * d.sigma).any())  # the floor is what held it


def test_round_trip_of_a_shot_has_latent_distance_one(setup, three):
    from tvig.images import to_uint8
    from tvig.integrator.rounds import IntegratorConfig, score_images

    p, vq, clip, _, _, text, _ = setup
    shots, d = three
    with torch.no_grad():
        recon = to_uint8(vq.decode(vq.quantize(d.mu))).float() / 255.0
        emb = clip.encode_images(shots)
    s, _ = score_images(vq, clip, recon, text_emb=text[0], shot_emb=emb, dist0=d,
                        comp=torch.arange(3), config=IntegratorConfig.from_profile(p))
    assert s.latent.tolist() == pytest.approx([1.0, 1.0, 1.0], rel=1e-4)
    assert d.round_trip.min() > 0.01  # a real unit, not the 1e-6 guard


def test_gradients_reach_mu_and_log_sigma(setup):
    _, vq, clip, _, dist0, _, shot_emb = setup
    mu = dist0.mu[0].clone().requires_grad_(True)
    log_sigma = dist0.sigma[0].log().requires_grad_(True)
    z = mu + log_sigma.exp() * torch.randn(2, *mu.shape)
    emb = clip.encode_images(vq.decode(vq.quantize(z)))
    spherical_distance(emb, shot_emb[0]).mean().backward()
    assert mu.grad.abs().sum() > 0 and log_sigma.grad.abs().sum() > 0
    res = run(setup, profile=dict(steps=2))
    assert not torch.equal(res.dist.mu, dist0.mu) and not torch.equal(res.dist.sigma, dist0.sigma)


def test_total_loss_decreases(setup):
    """Started away from the prior, the optimiser brings the total loss down."""
    _, _, _, _, dist0, _, _ = setup
    g = torch.Generator().manual_seed(1)
    init = LatentDist(dist0.mu + 0.3 * torch.randn(dist0.mu.shape, generator=g), 3 * dist0.sigma)
    res = run(setup, init=init, profile=dict(steps=10, lr=0.05))
    h = res.history["total"]
    assert len(h) == 10 and set(res.history) == {"text", "image", "kl", "total"}
    assert statistics.mean(h[-3:]) < 0.9 * statistics.mean(h[:3])


def test_same_seed_same_images_and_shapes(setup):
    a = run(setup, profile=dict(steps=2), seed=5)
    b = run(setup, profile=dict(steps=2), seed=5)
    c = run(setup, profile=dict(steps=2), seed=6)
    assert a.images.shape == (3, 3, 64, 64) and a.z.shape == (3, 16, 16, 16)
    assert torch.equal(a.images, b.images) and a.history == b.history
    assert not torch.equal(a.images, c.images)


def test_candidates_differ_with_sigma_and_not_without(setup):
    _, vq, _, _, dist0, _, _ = setup
    res = run(setup, profile=dict(steps=2), n=3)
    assert all(not torch.equal(res.images[i], res.images[j]) for i, j in ((0, 1), (0, 2), (1, 2)))
    flat = run(setup, profile=dict(steps=2), n=3, fixed_sigma=0.0)
    # sigma = 0: a candidate is its component's mu (0 and 2 share shot 0's; 1 is shot 1's)
    assert torch.equal(flat.images[0], flat.images[2])
    assert not torch.equal(flat.images[0], flat.images[1])
    assert torch.all(flat.dist.sigma == 0)
    still = sample_images(vq, LatentDist(dist0.mu, torch.zeros_like(dist0.sigma)), 3)
    assert torch.equal(still[0], still[2])
    assert not torch.equal(*sample(dist0, 2, seed=0))


def test_nan_is_reported_with_its_step(setup):
    _, _, _, _, dist0, _, _ = setup
    bad = LatentDist(dist0.mu.clone(), dist0.sigma.clone())
    bad.mu[0, 0, 0] = float("nan")
    with pytest.raises(NumericsError, match="step 0"):
        run(setup, init=bad, profile=dict(steps=2))


def test_bad_parameters_rejected_before_work(setup):
    _, _, _, _, dist0, _, _ = setup
    with pytest.raises(ConfigError, match="positive integer"):
        run(setup, n=0)
    with pytest.raises(ConfigError, match=r"needs \(16, 16, 16\)"):
        run(setup, dist0=LatentDist(dist0.mu[:, :8], dist0.sigma[:, :8]))


def test_latent_dist_save_load(tmp_path, setup):
    dist0 = setup[4]
    dist0.save(tmp_path / "latent.pt", prompt="a nut")
    back = LatentDist.load(tmp_path / "latent.pt")
    assert torch.equal(back.mu, dist0.mu) and torch.equal(back.sigma, dist0.sigma)


def test_metrics_diversity_and_similarity():
    e = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1)
    assert diversity(e[:1].repeat(4, 1)) == pytest.approx(0.0, abs=1e-6)
    assert diversity(torch.stack([e[0], -e[0]])) == pytest.approx(2.0)
    assert similarity(e[:2], e[:2].clone()[:1].repeat(1, 1)) <= 1.0
    assert similarity(e[:1].repeat(3, 1), e[:1]) == pytest.approx(1.0)
