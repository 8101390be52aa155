"""Paper module 3, the text-guided knowledge integrator (notebook ``03_iterative_integration``).

Paper: Lee & Choi, CVPR 2024, https://arxiv.org/abs/2403.06247, Sec. 3 (text-guided knowledge
integrator). Rounds of the generator (:mod:`~tvig.integrator.rounds`): each round's candidates
are scored by text similarity, image similarity and latent distance
(:mod:`~tvig.integrator.scoring`), the best are kept and merged into the distribution; the
kept images are written with a manifest (:mod:`~tvig.integrator.writer`, which only writes)
and summarised in a quality report (:mod:`~tvig.integrator.report`).

Public names: :class:`IntegratorConfig`, :func:`integrate`, :class:`IntegrationResult`,
:class:`RoundRecord`, :class:`Scores`, :func:`score_terms`, :func:`top_m`,
:func:`merge_latents`, :func:`write_set`, :func:`quality_report`.

Example:
    >>> import torch
    >>> from tvig.integrator import top_m
    >>> top_m(torch.tensor([0.1, 0.9, 0.5]), 2).tolist()
    [1, 2]
"""

from tvig.integrator.report import QualityReport, quality_report, write_report
from tvig.integrator.rounds import IntegrationResult, IntegratorConfig, RoundRecord, integrate
from tvig.integrator.scoring import Scores, combine_scores, merge_latents, score_terms, top_m
from tvig.integrator.writer import write_set

__all__ = ["QualityReport", "quality_report", "write_report", "IntegrationResult",
           "IntegratorConfig", "RoundRecord", "integrate", "Scores", "combine_scores",
           "merge_latents", "score_terms", "top_m", "write_set"]
