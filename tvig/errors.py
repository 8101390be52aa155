"""User-facing errors: each says what was wrong and how to fix it.

The CLI prints these as one sentence (no stack trace); anything else is a bug.

Example:
    >>> raise InputError("image not found: shots/a.png (check the path)")
    Traceback (most recent call last):
    tvig.errors.InputError: image not found: shots/a.png (check the path)
"""

from __future__ import annotations


class TvigError(Exception):
    """Base class for every error tvig raises on purpose."""


class InputError(TvigError, ValueError):
    """A user input (image, folder, category, dataset) cannot be used."""


class ConfigError(TvigError, ValueError):
    """A parameter or profile value is out of range or unknown."""


class AssetError(TvigError, RuntimeError):
    """A pretrained asset is missing, corrupt or of the wrong kind."""


class AssetMissingError(AssetError, FileNotFoundError):
    """A pretrained asset is not in the cache; the message names the download command."""


class NumericsError(TvigError, FloatingPointError):
    """The optimisation produced NaN or Inf."""


def choices_text(name: str, value: object, valid: "list[str] | tuple[str, ...]") -> str:
    """'unknown profile 'x'; valid: a, b, c' — the one way we list valid names."""
    plural = name + ("es" if name.endswith(("s", "x", "ch", "sh")) else "s")
    return f"unknown {name} {value!r}; valid {plural}: {', '.join(sorted(valid))}"
