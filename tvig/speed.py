"""Speed and memory knobs of generation: autocast, micro-batches, OOM splitting, compile.

None of these change *what* tvig computes, only how: with the defaults on a CPU the results
are bit-identical to running without them (tests/test_speed.py checks it).

* :class:`SpeedConfig` ``precision``: ``"auto"`` (default) runs the VQGAN and CLIP forwards in
  bf16 autocast only on a CUDA GPU with native bf16 (compute capability >= 8.0: A100, H100,
  RTX 30xx+), in fp32 everywhere else (a Colab T4 is 7.5; a CPU is always fp32). ``"fp32"``,
  ``"bf16"`` or ``"fp16"`` force one (fp16 on CUDA comes with dynamic loss scaling:
  :func:`grad_scaler`). :func:`resolve_precision` says which one applies; generation prints it
  and records it in the manifest.
* ``checkpoint``: activation checkpointing of the VQGAN decoder and CLIP's image tower while
  optimising (:mod:`tvig.models.checkpointing`; same numbers, a fraction of the memory, about
  one more forward per step). ``None`` (default) = on when the step's estimated activations
  (:func:`step_activation_bytes`) exceed 80 % of the GPU's free memory; off on a CPU.
* ``micro_batch``: optimise the N candidates of a step in chunks of this many, accumulating
  the gradient (same loss, less memory; each chunk draws its own cutout boxes).
* ``compile``: ``torch.compile`` the VQGAN decoder and CLIP's image tower (off by default: it
  costs minutes of compilation and pays off only on long GPU runs).
* :func:`split_on_oom`: run a batched function, halving the batch each time the device runs
  out of memory, instead of crashing (sampling, scoring; ``optimise`` halves its micro-batch).

Example:
    >>> import torch
    >>> cfg = SpeedConfig()
    >>> use_autocast(cfg, torch.device("cpu")), resolve_precision(cfg, "cpu")
    (False, 'fp32')
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

    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (see the module docstring)
    micro_batch: int | None = None  # candidates per forward/backward chunk; None = all N
    compile: bool = False  # torch.compile the VQGAN decoder and CLIP image tower
    checkpoint: bool | None = None  # activation checkpointing; None = from free GPU memory

    def __post_init__(self) -> None:
        mb = self.micro_batch
        if mb is not None and (isinstance(mb, bool) or not isinstance(mb, int) or mb < 1):
            raise ConfigError(f"micro_batch must be a positive integer or None, got {mb!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; valid: "
                              f"{', '.join(PRECISIONS)}")


PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: "str | torch.device") -> bool:
    """True for a CUDA device of compute capability >= 8.0 (native bf16 tensor cores)."""
    dev = torch.device(device)
    return dev.type == "cuda" and torch.cuda.get_device_capability(dev)[0] >= 8


def resolve_precision(cfg: SpeedConfig | None, device: "str | torch.device") -> str:
    """The precision of the two networks' forwards: ``fp32``, ``bf16`` or ``fp16``.

    A CPU is always fp32; ``auto`` picks bf16 only where the GPU has it natively.
    """
    cfg = cfg or SpeedConfig()
    if torch.device(device).type != "cuda":
        return "fp32"
    if cfg.precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return cfg.precision


def use_autocast(cfg: SpeedConfig | None, device: "str | torch.device") -> bool:
    """True when the forwards run under autocast (bf16 or fp16 on CUDA)."""
    return resolve_precision(cfg, device) != "fp32"


def autocast(cfg: SpeedConfig | None, device: "str | torch.device"):
    """The autocast context for ``device`` (a null context for fp32)."""
    precision = resolve_precision(cfg, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=_DTYPES[precision])


def needs_loss_scaling(cfg: SpeedConfig | None, device: "str | torch.device") -> bool:
    """fp16 gradients underflow without loss scaling; bf16 and fp32 need none."""
    return resolve_precision(cfg, device) == "fp16"


def grad_scaler(cfg: SpeedConfig | None, device: "str | torch.device") -> torch.amp.GradScaler:
    """Dynamic loss scaling for fp16 (a pass-through otherwise)."""
    return torch.amp.GradScaler("cuda", enabled=needs_loss_scaling(cfg, device))


# Saved activations of one optimisation step, per candidate, measured on the real
# architectures by benchmarks/bench_memory.py (fp32, random weights: the cost does not depend on
# them): VQGAN f16 decoder at 256 px, and CLIP ViT-B/32 per 224 px view.
DECODER_BYTES_256 = 1.80 * 2**30
CLIP_VIEW_BYTES = 25 * 2**20


def step_activation_bytes(n: int, cutouts: int, image_size: int) -> float:
    """Estimated saved-activation bytes of one step with n candidates (no checkpointing)."""
    return n * (DECODER_BYTES_256 * (image_size / 256) ** 2 + (cutouts + 1) * CLIP_VIEW_BYTES)


def use_checkpointing(cfg: SpeedConfig | None, device: "str | torch.device", *, n: int,
                      cutouts: int, image_size: int) -> bool:
    """Activation checkpointing on? The user's choice, else on when the step would not fit."""
    cfg = cfg or SpeedConfig()
    if cfg.checkpoint is not None:
        return cfg.checkpoint
    dev = torch.device(device)
    if dev.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(dev)
    return step_activation_bytes(n, cutouts, image_size) > 0.8 * free


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
