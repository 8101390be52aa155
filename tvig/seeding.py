"""Seeds and devices: the two things that make a run repeatable and portable.

Example:
    >>> import torch
    >>> with seeded(1):
    ...     a = torch.rand(2)
    >>> with seeded(1):
    ...     b = torch.rand(2)
    >>> bool((a == b).all())
    True
"""

from __future__ import annotations

import contextlib
import random
from typing import Iterator

import numpy as np
import torch

from tvig.errors import ConfigError


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block under a fixed torch/numpy/random seed, restoring the outer RNG state after."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def generator(seed: int, device: "str | torch.device" = "cpu") -> torch.Generator:
    """A torch.Generator for ``device`` seeded with ``seed`` (for explicit, local randomness)."""
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(seed)
    return g


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available else CPU; ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu" or name.startswith("cpu"):
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but no CUDA GPU is available here; "
                              "use --device cpu or --device auto")
        return torch.device(name)
    raise ConfigError(f"unknown device {name!r}; valid devices: {', '.join(DEVICES)}")
