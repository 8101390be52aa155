"""Score terms, top-m selection and the (mu, sigma) merge on hand-made tensors."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tvig.errors import ConfigError
from tvig.integrator.scoring import (
    combine_scores,
    latent_distance,
    merge_latents,
    score_terms,
    top_m,
)


def test_latent_distance_is_mean_squared_mahalanobis():
    mu0 = torch.zeros(2, 1, 1)
    sigma0 = torch.tensor([1.0, 2.0]).view(2, 1, 1)
    z = torch.tensor([[[[1.0]], [[4.0]]], [[[0.0]], [[0.0]]]])  # (2, 2, 1, 1)
    # candidate 0: ((1/1)^2 + (4/2)^2) / 2 = 2.5 ; candidate 1 sits on mu0
    assert latent_distance(z, mu0, sigma0).tolist() == [2.5, 0.0]


def test_latent_distance_of_samples_from_the_gaussian_is_about_one():
    g = torch.Generator().manual_seed(0)
    mu0, sigma0 = torch.randn(4, 8, 8, generator=g), torch.rand(4, 8, 8, generator=g) + 0.1
    z = mu0 + sigma0 * torch.randn(64, 4, 8, 8, generator=g)
    assert latent_distance(z, mu0, sigma0).mean().item() == pytest.approx(1.0, abs=0.05)


def test_score_terms_closed_form():
    e = torch.eye(3)
    img_emb = torch.stack([e[0], F.normalize(e[0] + e[1], dim=0), e[2]])  # (3, 3)
    text = e[0]
    shots = torch.stack([e[1], e[1]])  # mean direction e1
    mu0, sigma0 = torch.zeros(1, 1, 1), torch.ones(1, 1, 1)
    z = torch.tensor([0.0, 1.0, 2.0]).view(3, 1, 1, 1)
    s = score_terms(img_emb, text, shots, z, mu0, sigma0, a=2.0, b=1.0, c=0.5)
    r = 2 ** -0.5
    assert s.text.tolist() == pytest.approx([1.0, r, 0.0])
    assert s.img.tolist() == pytest.approx([0.0, r, 0.0])
    assert s.latent.tolist() == pytest.approx([0.0, 1.0, 4.0])
    assert s.total.tolist() == pytest.approx([2.0, 3 * r - 0.5, -2.0])
    assert s.row(1)["score"] == pytest.approx(3 * r - 0.5)


def test_top_m_keeps_exactly_the_best_by_combined_score():
    g = torch.Generator().manual_seed(3)
    text, img, lat = torch.rand(10, generator=g), torch.rand(10, generator=g), torch.rand(10, generator=g)
    total = combine_scores(text, img, lat, a=1.0, b=0.5, c=2.0)
    idx = top_m(total, 4)
    assert len(idx) == 4 and len(set(idx.tolist())) == 4
    worst_kept = total[idx].min()
    others = torch.ones(10, dtype=torch.bool)
    others[idx] = False
    assert (total[others] < worst_kept).all()
    assert total[idx].tolist() == sorted(total[idx].tolist(), reverse=True)  # best first
    # the text term alone would pick differently: the combined score decides
    assert set(idx.tolist()) != set(top_m(text, 4).tolist())


def test_top_m_ties_and_bounds():
    assert top_m(torch.tensor([1.0, 2.0, 2.0, 0.0]), 2).tolist() == [1, 2]
    with pytest.raises(ConfigError):
        top_m(torch.zeros(3), 4)
    with pytest.raises(ConfigError):
        top_m(torch.zeros(3), 0)


def test_merge_hand_made_example():
    mu0 = torch.tensor([0.0, 1.0]).view(2, 1, 1)
    sigma0 = torch.tensor([1.0, 0.5]).view(2, 1, 1)
    kept = torch.tensor([[2.0, 1.0], [4.0, 1.0]]).view(2, 2, 1, 1)  # channel 1: no spread
    mu, sigma = merge_latents(mu0, sigma0, kept, weight=0.5, sigma_floor=0.6)
    # channel 0: mu = .5*0 + .5*3 = 1.5 ; E[z^2] = .5*(1+0) + .5*(4+16)/2 = 5.5 ; var = 5.5-2.25
    # channel 1: mu = .5*1 + .5*1 = 1 ; E[z^2] = .5*(.25+1) + .5*1 = 1.125 ; var = .125 -> floor .6
    assert mu.flatten().tolist() == pytest.approx([1.5, 1.0])
    assert sigma.flatten().tolist() == pytest.approx([3.25 ** 0.5, 0.6])


def test_merge_weight_extremes():
    g = torch.Generator().manual_seed(1)
    mu0, sigma0 = torch.randn(3, 2, 2, generator=g), torch.rand(3, 2, 2, generator=g) + 0.5
    kept = torch.randn(5, 3, 2, 2, generator=g)
    mu, sigma = merge_latents(mu0, sigma0, kept, weight=0.0, sigma_floor=1e-3)
    assert torch.allclose(mu, mu0) and torch.allclose(sigma, sigma0, atol=1e-6)
    mu, sigma = merge_latents(mu0, sigma0, kept, weight=1.0, sigma_floor=1e-3)
    assert torch.allclose(mu, kept.mean(0), atol=1e-6)
    assert torch.allclose(sigma, kept.std(0, unbiased=False).clamp_min(1e-3), atol=1e-5)
    with pytest.raises(ConfigError):
        merge_latents(mu0, sigma0, kept, weight=1.5, sigma_floor=0.1)


def test_latent_distance_per_component_and_calibrated():
    mu0 = torch.stack([torch.zeros(1, 1, 2), torch.ones(1, 1, 2)])  # (2, 1, 1, 2)
    sigma0 = torch.ones(2, 1, 1, 2)
    z = torch.ones(2, 1, 1, 2)  # both candidates at 1
    comp = torch.tensor([0, 1])
    raw = latent_distance(z, mu0[comp], sigma0[comp])
    assert raw.tolist() == [1.0, 0.0]  # component 0 is 1 away, component 1 is exact
    cal = latent_distance(z, mu0[comp], sigma0[comp], torch.tensor([4.0, 2.0]))
    assert cal.tolist() == [0.25, 0.0]


def test_merge_per_component_leaves_the_others_real():
    mu0, sigma0 = torch.zeros(3, 1, 1, 1), torch.ones(3, 1, 1, 1)
    kept = torch.tensor([2.0, 4.0]).view(2, 1, 1, 1)
    mu, sigma = merge_latents(mu0, sigma0, kept, weight=0.5, sigma_floor=0.1,
                              kept_comp=torch.tensor([1, 1]))
    assert mu.flatten().tolist() == [0.0, 1.5, 0.0]  # only component 1 moved
    # component 1: second moment 0.5 * 1 + 0.5 * (4 + 16) / 2 = 5.5, var 5.5 - 2.25
    assert sigma.flatten().tolist() == pytest.approx([1.0, (5.5 - 2.25) ** 0.5, 1.0])
