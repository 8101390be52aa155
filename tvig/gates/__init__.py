"""Functional gates: does each weight file do its job (``tvig check``, issue 17)?

Paper: Lee & Choi, CVPR 2024, https://arxiv.org/abs/2403.06247. No checksum is published for
the VQGAN or CLIP weights, so tvig checks what they *do*, on CC0 photos bundled with
scikit-image: CLIP zero-shot names them, the VQGAN reconstructs them, the detector backbones
classify them (ImageNet top-5), and a few guidance steps raise CLIP similarity (the chain).

Public names: :class:`GateResult` and the gates :func:`clip_gate`, :func:`vqgan_gate`,
:func:`backbone_gate`, :func:`chain_gate` (:mod:`tvig.gates.checks`); :func:`load_photos`
(:mod:`tvig.gates.photos`); :func:`run_check`, :func:`cached_verdict`, :func:`ensure_checked`,
:func:`format_table` (:mod:`tvig.gates.run`).

Example (the ``tiny`` profile has random weights, so its weight gates fail):
    >>> from tvig.gates import run_check
    >>> from tvig.profiles import get_profile
    >>> [(r.gate, r.passed) for r in run_check(get_profile("tiny"), record=False)][:2]  # doctest: +SKIP
    [('zero-shot top-1', False), ('reconstruction PSNR', False)]
"""

from tvig.gates.checks import (
           GateResult,
           backbone_gate,
           chain_gate,
           clip_gate,
           vqgan_gate,
)
from tvig.gates.photos import load_photos
from tvig.gates.run import cached_verdict, ensure_checked, format_table, run_check

__all__ = ["GateResult", "backbone_gate", "chain_gate", "clip_gate", "vqgan_gate", "load_photos",
           "cached_verdict", "ensure_checked", "format_table", "run_check"]
