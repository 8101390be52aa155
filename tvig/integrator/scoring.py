"""The integrator's candidate score, top-m selection and the (mu, sigma) merge: pure tensor maths.

Score of a candidate image x with re-encoded pre-quantisation latent z (DESIGN.md, module 3)::

    score = a * cos(E_img(x), E_txt(p*))             # text term: looks like the prompt
          + b * cos(E_img(x), mean_k E_img(x_k))      # image term: looks like the shots
          - c * D(z)                                   # latent term: stays in the real distribution

    D(z) = mean_{C,h,w} ((z - mu_0^j) / sigma_0^j)^2  /  D(round trip of shot j)

for a candidate of component j (its shot). The numerator is the mean squared Mahalanobis
distance under that shot's Gaussian; the denominator is the same distance of the shot's own
encode -> quantise -> decode -> encode round trip, so **D = 1 means "as far as the shot
itself"** and the three terms have comparable scales (the round trip alone gives a raw
distance of several units with real weights, which would let c * D outweigh both cosines).

Merge rule (:func:`merge_latents`), per component j: the next round's (mu^j, sigma^j) are the
first two moments of a mixture that puts weight ``1 - w`` on the real component
N(mu_0^j, sigma_0^j^2) and weight ``w / m_j`` on each of the m_j kept latents of component j::

    mu      = (1 - w) * mu_0 + w * mean_i z_i
    sigma^2 = (1 - w) * (sigma_0^2 + mu_0^2) + w * mean_i z_i^2 - mu^2
    sigma   = max(sigma, sigma_floor)

A component with no kept latent goes back to its real one. Every round is anchored to the
shots (it never drifts further than ``w`` allows) and the kept candidates, chosen by text *and*
image score, move it. ``w = 0`` ignores the candidates; ``w = 1`` uses only them.

Example:
    >>> import torch
    >>> s = combine_scores(torch.tensor([0.2, 0.5]), torch.tensor([0.9, 0.1]),
    ...                    torch.tensor([1.0, 0.0]), a=1.0, b=1.0, c=0.1)
    >>> [round(v, 2) for v in s.tolist()]
    [1.0, 0.6]
    >>> top_m(s, 1).tolist()
    [0]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tvig.errors import ConfigError
from tvig.generator.distribution import raw_distance
from tvig.generator.guidance import shot_center

SCORE_TERMS = ("score_text", "score_img", "score_latent", "score")  # manifest column names


@dataclass
class Scores:
    """Every score term for N candidates, each a float tensor (N,)."""

    text: torch.Tensor  # cos(E_img(x), E_txt(p*))
    img: torch.Tensor  # cos(E_img(x), mean E_img(shots))
    latent: torch.Tensor  # D(z) in units of the shot's own round trip (lower = more real)
    total: torch.Tensor  # a*text + b*img - c*latent

    def __len__(self) -> int:
        return int(self.total.shape[0])

    def index(self, idx: "torch.Tensor | list[int]") -> "Scores":
        """The scores of a subset of candidates, in the order of ``idx``."""
        idx = torch.as_tensor(idx, dtype=torch.long)
        return Scores(self.text[idx], self.img[idx], self.latent[idx], self.total[idx])

    def row(self, i: int) -> dict[str, float]:
        """Candidate ``i``'s terms keyed by the manifest column names."""
        vals = (self.text[i], self.img[i], self.latent[i], self.total[i])
        return {k: float(v) for k, v in zip(SCORE_TERMS, vals)}

    @staticmethod
    def cat(parts: "list[Scores]") -> "Scores":
        return Scores(*(torch.cat([getattr(p, f) for p in parts])
                        for f in ("text", "img", "latent", "total")))


def latent_distance(z: torch.Tensor, mu0: torch.Tensor, sigma0: torch.Tensor,
                    round_trip: "torch.Tensor | None" = None) -> torch.Tensor:
    """D(z): z (N, C, h, w); mu0/sigma0 of each candidate's component (N, C, h, w) (or one
    (C, h, w)); ``round_trip`` (N,) the raw distance of that shot's round trip (None: raw)."""
    d = raw_distance(z, mu0, sigma0)
    return d if round_trip is None else d / round_trip.to(d)


def combine_scores(text: torch.Tensor, img: torch.Tensor, latent: torch.Tensor, *,
                   a: float, b: float, c: float) -> torch.Tensor:
    """score = a*text + b*img - c*latent, elementwise over (N,)."""
    return a * text + b * img - c * latent


def score_terms(img_emb: torch.Tensor, text_emb: torch.Tensor, shot_emb: torch.Tensor,
                z: torch.Tensor, mu0: torch.Tensor, sigma0: torch.Tensor, *,
                a: float, b: float, c: float,
                round_trip: "torch.Tensor | None" = None) -> Scores:
    """All terms from embeddings and latents.

    img_emb (N, D) unit CLIP image embeddings of the candidates; text_emb (D,) or (1, D) of p*;
    shot_emb (k, D) of the shots (their mean is re-normalised); z (N, C, h, w) re-encoded
    latents; mu0, sigma0, round_trip: each candidate's component (see :func:`latent_distance`).
    """
    img_emb = F.normalize(img_emb.float(), dim=-1)
    t = F.normalize(text_emb.float().reshape(-1), dim=0)
    s = shot_center(shot_emb.float().reshape(-1, img_emb.shape[1]))
    text, img = img_emb @ t, img_emb @ s  # (N,)
    lat = latent_distance(z.float(), mu0.float(), sigma0.float(), round_trip)
    return Scores(text, img, lat, combine_scores(text, img, lat, a=a, b=b, c=c))


def top_m(total: torch.Tensor, m: int) -> torch.Tensor:
    """Indices of the m highest scores, best first (ties: lower index first). (N,) -> (m,)."""
    n = int(total.shape[0])
    if not 1 <= m <= n:
        raise ConfigError(f"keep m={m} must be between 1 and the number of candidates ({n})")
    # stable sort on -score keeps the original order among equal scores
    order = torch.sort(-total.detach().cpu().double(), stable=True).indices
    return order[:m]


def merge_latents(mu0: torch.Tensor, sigma0: torch.Tensor, kept_z: torch.Tensor, *,
                  weight: float, sigma_floor: float,
                  kept_comp: "torch.Tensor | None" = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Moment-match (1-w) N(mu_0^j, sigma_0^j^2) + w * empirical(kept latents of j), per j.

    mu0, sigma0 (k, C, h, w) (or one (C, h, w) component); kept_z (m, C, h, w); kept_comp (m,)
    component of each kept latent (default all 0). Returns (mu, sigma) shaped like mu0, with
    sigma >= sigma_floor; a component with nothing kept is its real one. See the module
    docstring for the formula.
    """
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"merge weight must be in [0, 1], got {weight!r}")
    if sigma_floor <= 0:
        raise ConfigError(f"sigma_floor must be > 0, got {sigma_floor!r}")
    single = mu0.ndim == 3
    m0, s0 = (mu0[None], sigma0[None]) if single else (mu0, sigma0)
    kept_z = kept_z.to(m0)
    comp = (torch.zeros(len(kept_z), dtype=torch.long) if kept_comp is None
            else torch.as_tensor(kept_comp, dtype=torch.long).cpu())
    mu, sigma = m0.clone(), s0.clone()
    for j in comp.unique().tolist():
        zj = kept_z[comp == j]  # (m_j, C, h, w)
        mu[j] = (1 - weight) * m0[j] + weight * zj.mean(0)
        second = (1 - weight) * (s0[j] ** 2 + m0[j] ** 2) + weight * (zj ** 2).mean(0)
        sigma[j] = (second - mu[j] ** 2).clamp_min(0.0).sqrt()
    sigma = sigma.clamp_min(sigma_floor)
    return (mu[0], sigma[0]) if single else (mu, sigma)
