"""The integrator's candidate score, top-m selection and the (mu, sigma) merge: pure tensor maths.

Score of a candidate image x with re-encoded pre-quantisation latent z (DESIGN.md, module 3)::

    score = a * cos(E_img(x), E_txt(p*))             # text term: looks like the prompt
          + b * cos(E_img(x), mean_k E_img(x_k))      # image term: looks like the shots
          - c * D(z)                                   # latent term: stays in the real distribution

    D(z) = mean over (C, h, w) of ((z - mu_0) / sigma_0)^2

D is the *mean squared Mahalanobis distance* of z under the diagonal Gaussian N(mu_0, sigma_0^2)
learned from the real shots (and their augmentations): a latent drawn from that Gaussian has
E[D] = 1, so D >> 1 means "far from anything real". The mean (not the sum) keeps D on the same
scale for every latent size, so one weight ``c`` works for the tiny and the paper VQGAN.

Merge rule (:func:`merge_latents`): the next round's (mu, sigma) are the first two moments of a
mixture that puts weight ``1 - w`` on the real latents' Gaussian N(mu_0, sigma_0^2) and weight
``w / m`` on each of the m kept latents z_j (a point mass each)::

    mu      = (1 - w) * mu_0 + w * mean_j z_j
    sigma^2 = (1 - w) * (sigma_0^2 + mu_0^2) + w * mean_j z_j^2 - mu^2
    sigma   = max(sigma, sigma_floor)

so every round is anchored to the real images (it never drifts further than ``w`` allows) and
the kept candidates, chosen by text *and* image score, move it (text and image knowledge
integrated). ``w = 0`` ignores the candidates; ``w = 1`` uses only them.

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

SCORE_TERMS = ("score_text", "score_img", "score_latent", "score")  # manifest column names


@dataclass
class Scores:
    """Every score term for N candidates, each a float tensor (N,)."""

    text: torch.Tensor  # cos(E_img(x), E_txt(p*))
    img: torch.Tensor  # cos(E_img(x), mean E_img(shots))
    latent: torch.Tensor  # D(z): mean squared Mahalanobis distance (lower = more real)
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


def latent_distance(z: torch.Tensor, mu0: torch.Tensor, sigma0: torch.Tensor) -> torch.Tensor:
    """D(z) = mean_{C,h,w} ((z - mu_0) / sigma_0)^2. z (N, C, h, w), mu0/sigma0 (C, h, w) -> (N,)."""
    if z.shape[1:] != mu0.shape or mu0.shape != sigma0.shape:
        raise ValueError(f"latent shapes disagree: z {tuple(z.shape)}, mu0 {tuple(mu0.shape)}, "
                         f"sigma0 {tuple(sigma0.shape)}")
    return (((z - mu0) / sigma0) ** 2).flatten(1).mean(1)


def combine_scores(text: torch.Tensor, img: torch.Tensor, latent: torch.Tensor, *,
                   a: float, b: float, c: float) -> torch.Tensor:
    """score = a*text + b*img - c*latent, elementwise over (N,)."""
    return a * text + b * img - c * latent


def score_terms(img_emb: torch.Tensor, text_emb: torch.Tensor, shot_emb: torch.Tensor,
                z: torch.Tensor, mu0: torch.Tensor, sigma0: torch.Tensor, *,
                a: float, b: float, c: float) -> Scores:
    """All terms from embeddings and latents.

    img_emb (N, D) unit CLIP image embeddings of the candidates; text_emb (D,) or (1, D) of p*;
    shot_emb (k, D) of the shots (their mean is re-normalised); z (N, C, h, w) re-encoded latents.
    """
    img_emb = F.normalize(img_emb.float(), dim=-1)
    t = F.normalize(text_emb.float().reshape(-1), dim=0)
    s = F.normalize(shot_emb.float().reshape(-1, img_emb.shape[1]).mean(0), dim=0)
    text, img = img_emb @ t, img_emb @ s  # (N,)
    lat = latent_distance(z.float(), mu0.float(), sigma0.float())
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
                  weight: float, sigma_floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Moment-match the mixture (1-w) N(mu_0, sigma_0^2) + w * empirical(kept_z).

    mu0, sigma0 (C, h, w); kept_z (m, C, h, w). Returns (mu, sigma), each (C, h, w), with
    sigma >= sigma_floor. See the module docstring for the formula.
    """
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"merge weight must be in [0, 1], got {weight!r}")
    if sigma_floor <= 0:
        raise ConfigError(f"sigma_floor must be > 0, got {sigma_floor!r}")
    kept_z = kept_z.to(mu0)
    mu = (1 - weight) * mu0 + weight * kept_z.mean(0)
    second = (1 - weight) * (sigma0 ** 2 + mu0 ** 2) + weight * (kept_z ** 2).mean(0)
    var = (second - mu ** 2).clamp_min(0.0)
    return mu, var.sqrt().clamp_min(sigma_floor)
