"""Speed and memory knobs of generation: autocast, micro-batches, OOM splitting, compile.

None of these change *what* tvig computes, only how: with the defaults on a CPU the results
are bit-identical to running without them (tests/test_speed.py checks it).

* :class:`SpeedConfig` ``autocast``: bf16 autocast of the VQGAN and CLIP forwards **on CUDA
  only** (``None`` = on for CUDA, off on CPU; on a CPU the flag does nothing: fp32 there).
* ``micro_batch``: optimise the N candidates of a step in chunks of this many, accumulating
  the gradient (same loss, less memory; each chunk draws its own cutout boxes).
* ``compile``: ``torch.compile`` the VQGAN decoder and CLIP's image tower (off by default: it
  costs minutes of compilation and pays off only on long GPU runs).
* :func:`split_on_oom`: run a batched function, halving the batch each time the device runs
  out of memory, instead of crashing (sampling, scoring; ``optimise`` halves its micro-batch).

Example:
    >>> import torch
    >>> cfg = SpeedConfig()
    >>> use_autocast(cfg, torch.device("cpu"))
    False
    >>> split_on_oom(lambda x: x * 2, torch.arange(5.0)).tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0]
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass
from typing import Callable

import torch

from tvig.errors import ConfigError, TvigError


class OutOfMemory(TvigError, MemoryError):
    """Even one item does not fit on the device."""


@dataclass(frozen=True)
class SpeedConfig:
    """How generation runs (not what it computes). See the module docstring."""

    autocast: bool | None = None  # bf16 autocast on CUDA; None = on for CUDA; no-op on CPU
    micro_batch: int | None = None  # candidates per forward/backward chunk; None = all N
    compile: bool = False  # torch.compile the VQGAN decoder and CLIP image tower

    def __post_init__(self) -> None:
        mb = self.micro_batch
        if mb is not None and (isinstance(mb, bool) or not isinstance(mb, int) or mb < 1):
            raise ConfigError(f"micro_batch must be a positive integer or None, got {mb!r}")


def use_autocast(cfg: SpeedConfig | None, device: "str | torch.device") -> bool:
    """True when bf16 autocast applies: a CUDA device and ``autocast`` not False."""
    cfg = cfg or SpeedConfig()
    return torch.device(device).type == "cuda" and cfg.autocast is not False


def autocast(cfg: SpeedConfig | None, device: "str | torch.device"):
    """The autocast context for ``device`` (a null context on CPU or when turned off)."""
    if use_autocast(cfg, device):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def free_memory(device: "str | torch.device") -> None:
    """Drop cached allocator blocks after an out-of-memory error."""
    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()


def split_on_oom(fn: Callable[..., torch.Tensor], *xs: torch.Tensor,
                 batch: int | None = None) -> torch.Tensor:
    """``fn(*chunks)`` over the rows of ``xs`` in chunks, cat along dim 0.

    Starts with ``batch`` rows (default: all); on ``torch.OutOfMemoryError`` halves the chunk
    and continues where it was (finished chunks are kept). Raises :class:`OutOfMemory` when
    one row does not fit. Every x (B, ...) -> fn's output (B, ...).
    """
    n = len(xs[0])
    size = max(1, min(batch or n, n))
    out: list[torch.Tensor] = []
    i = 0
    while i < n:
        try:
            out.append(fn(*(x[i:i + size] for x in xs)))
            i += size
        except torch.OutOfMemoryError:
            free_memory(xs[0].device)
            if size == 1:
                raise OutOfMemory("out of memory on one image: use a smaller image_size or "
                                  "fewer cutouts, or --device cpu") from None
            size = (size + 1) // 2  # halve, rounding up: 7 -> 4 -> 2 -> 1
    return out[0] if len(out) == 1 else torch.cat(out)


def compile_models(vqgan, clip) -> None:
    """``torch.compile`` (in place, state_dict keys unchanged) the decoder and image tower."""
    vqgan.decoder.compile()
    clip.model.visual.compile()
