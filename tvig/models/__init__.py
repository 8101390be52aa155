"""The two frozen networks of the method: CLIP (image-text similarity) and the VQGAN.

Paper: Lee & Choi, *Text-Guided Variational Image Generation for Industrial Anomaly Detection
and Segmentation*, CVPR 2024, https://arxiv.org/abs/2403.06247. Neither network is trained by
tvig; every paper module (prompting, generator, integrator) uses them.

Public names: :class:`Clip`, :func:`load_clip` (:mod:`tvig.models.clip`, open_clip);
:class:`VQGAN`, :func:`build_vqgan`, :func:`load_vqgan` (:mod:`tvig.models.vqgan`, built
from ``taming.modules`` with taming's state_dict names).

Example (the ``tiny`` profile: random weights, no network):
    >>> from tvig.models import load_clip, load_vqgan
    >>> from tvig.profiles import get_profile
    >>> p = get_profile("tiny")
    >>> clip, vq = load_clip(p), load_vqgan(p)
    >>> clip.encode_texts(["a photo of a nut"]).shape[0], vq.arch.resolution
    (1, 64)
"""

from tvig.models.clip import Clip, load_clip
from tvig.models.vqgan import VQGAN, build_vqgan, load_vqgan

__all__ = ["Clip", "load_clip", "VQGAN", "build_vqgan", "load_vqgan"]
