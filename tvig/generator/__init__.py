"""Paper module 2, the variance-aware image generator (notebook ``02_variance_aware_vqgan``).

Paper: Lee & Choi, CVPR 2024, https://arxiv.org/abs/2403.06247, Sec. 3 (variance-aware image
generator). A Gaussian over VQGAN latents, learned from the shots
(:mod:`~tvig.generator.distribution`), is optimised with Adam on (mu, log sigma) under CLIP
guidance (:mod:`~tvig.generator.guidance`: cutouts, spherical distance) and a KL term that
keeps it near the real one (:mod:`~tvig.generator.optimisation`); :mod:`~tvig.generator.metrics`
measures similarity and diversity of what it makes.

Public names: :class:`LatentDist` (a mixture, one component per shot), :func:`components`,
:func:`latent_stats`, :func:`sample`,
:func:`sample_images`, :func:`kl_divergence`, :func:`optimise`, :class:`GenerationResult`,
:class:`Cutouts`, :func:`spherical_distance`, :func:`diversity`, :func:`similarity`.

Example:
    >>> import torch
    >>> from tvig.generator import LatentDist, kl_divergence, sample
    >>> d = LatentDist(mu=torch.zeros(1, 4, 2, 2), sigma=torch.ones(1, 4, 2, 2))
    >>> sample(d, 3, seed=0).shape
    torch.Size([3, 4, 2, 2])
    >>> float(kl_divergence(d.mu, 2 * d.sigma, d.mu, d.sigma)) > 0
    True
"""

from tvig.generator.distribution import (
                                         LatentDist,
                                         components,
                                         kl_divergence,
                                         latent_stats,
                                         mean_penalty,
                                         sample,
                                         sample_images,
)
from tvig.generator.guidance import Cutouts, spherical_distance
from tvig.generator.metrics import diversity, set_metrics, similarity
from tvig.generator.optimisation import GenerationResult, optimise

__all__ = ["LatentDist", "components", "kl_divergence", "latent_stats", "mean_penalty", "sample",
           "sample_images", "Cutouts", "spherical_distance", "diversity", "set_metrics",
           "similarity", "GenerationResult", "optimise"]
