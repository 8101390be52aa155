"""Activation checkpointing of the two frozen networks during optimisation.

One optimisation step back-propagates through the VQGAN decoder (at 256 px it saves about
1.8 GiB of activations per candidate) and CLIP's image tower (about 25 MiB per cutout view).
With checkpointing on, the decoder keeps only the input of each block it checkpoints (the
middle block, each residual block, each upsampling, the output head) and recomputes the inside
during backward; CLIP's transformer does the same per residual block (open_clip's own
``set_grad_checkpointing``). The numbers are the same (recomputation is deterministic; on CPU
they are bit-identical), the memory is a fraction, and the cost is about one more decoder and
tower forward per step (``benchmarks/bench_memory.py`` measures both).

Example:
    >>> import torch
    >>> from tvig.models import load_clip, load_vqgan
    >>> from tvig.profiles import get_profile
    >>> p = get_profile("tiny")
    >>> vq, clip = load_vqgan(p), load_clip(p)
    >>> z = torch.randn(1, *vq.latent_shape(64))
    >>> plain = vq.decode(z)
    >>> with activation_checkpointing(vq, clip, True):
    ...     same = vq.decode(z)
    >>> torch.equal(plain, same), vq.checkpoint
    (True, False)
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


def _ckpt(fn, *xs: torch.Tensor) -> torch.Tensor:
    return checkpoint(fn, *xs, use_reentrant=False)


def decoder_forward(decoder: torch.nn.Module, z: torch.Tensor, *, ckpt: bool) -> torch.Tensor:
    """taming's ``Decoder.forward`` (B, z_channels, h, w) -> (B, 3, H, W), the same layers in
    the same order, optionally checkpointed per block: the middle block, every residual block
    (with its attention), every upsampling and the output head are one region each, so
    backward recomputes one block at a time (at 256 px the largest holds ~0.25 GiB/candidate).
    """
    # heavy: taming pulls in its model zoo; only the VQGAN builder needs it
    from taming.modules.diffusionmodules.model import nonlinearity

    run = _ckpt if ckpt and torch.is_grad_enabled() else (lambda fn, *xs: fn(*xs))

    def mid(h: torch.Tensor) -> torch.Tensor:
        h = decoder.mid.block_1(h, None)
        return decoder.mid.block_2(decoder.mid.attn_1(h), None)

    def res(i: int, j: int):
        blk = decoder.up[i]

        def block(h: torch.Tensor) -> torch.Tensor:
            h = blk.block[j](h, None)
            return blk.attn[j](h) if len(blk.attn) > 0 else h
        return block

    def head(h: torch.Tensor) -> torch.Tensor:
        return decoder.conv_out(nonlinearity(decoder.norm_out(h)))

    h = run(mid, decoder.conv_in(z))
    for i in reversed(range(decoder.num_resolutions)):
        for j in range(decoder.num_res_blocks + 1):
            h = run(res(i, j), h)
        if i != 0:
            h = run(decoder.up[i].upsample, h)
    return h if decoder.give_pre_end else run(head, h)


@contextlib.contextmanager
def activation_checkpointing(vqgan: nn.Module, clip: nn.Module, on: bool) -> Iterator[None]:
    """Within the block, checkpoint the VQGAN decoder and CLIP's image tower when ``on``
    (``vqgan``: a :class:`tvig.models.VQGAN`, ``clip``: a :class:`tvig.models.Clip`)."""
    visual = getattr(clip.model, "visual", None)
    can_clip = hasattr(visual, "set_grad_checkpointing")
    old = vqgan.checkpoint, bool(getattr(getattr(visual, "transformer", None),
                                          "grad_checkpointing", False))
    vqgan.checkpoint = on
    if can_clip:
        visual.set_grad_checkpointing(on)
    try:
        yield
    finally:
        vqgan.checkpoint = old[0]
        if can_clip:
            visual.set_grad_checkpointing(old[1])
