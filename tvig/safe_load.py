"""Load PyTorch checkpoints without ever running code from them.

Every ``torch.load`` in tvig goes through :func:`load_checkpoint`: ``weights_only=True`` (the
restricted unpickler builds tensors, containers and plain values only) plus an explicit
allow-list of inert *stub* classes for the known non-tensor entries of Lightning checkpoints:
the callback classes used as keys of ``checkpoint["callbacks"]`` (taming's ``last.ckpt`` is a
Lightning 1.0 checkpoint), the hyper-parameter containers (``AttributeDict``, read as a plain dict;
omegaconf's ``DictConfig``/``ListConfig`` and their node/metadata classes). A stub stores what
the file says and does nothing else; the real class is never imported. Any other global (``os.system``,
``builtins.exec``, a ``__reduce__`` gadget, an unknown class) is refused by name, as one line
that names the file and the command that replaces it.

Example:
    >>> import io, torch
    >>> buf = io.BytesIO(); torch.save({"state_dict": {"w": torch.ones(2)}}, buf)
    >>> _ = buf.seek(0)
    >>> load_checkpoint(buf, "x.ckpt")["state_dict"]["w"]
    tensor([1., 1.])
"""

from __future__ import annotations

import collections
import json
import pickle
from pathlib import Path
from typing import IO, Any

import torch

from tvig.assets import force_hint
from tvig.errors import AssetError


class LightningStub:
    """Stand-in for an allow-listed Lightning/omegaconf object: keeps its pickled state only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<stub of {type(self).__qualname__}>"


_CALLBACKS = [f"{pkg}.callbacks.{mod}.{cls}"
              for pkg in ("pytorch_lightning", "lightning.pytorch")
              for mod, cls in (("model_checkpoint", "ModelCheckpoint"),
                               ("early_stopping", "EarlyStopping"),
                               ("lr_monitor", "LearningRateMonitor"))]
# AttributeDict is a dict subclass with no state of its own: it is read as a plain dict
_DICTS = ["pytorch_lightning.utilities.parsing.AttributeDict",
          "lightning_fabric.utilities.data.AttributeDict",
          "lightning.fabric.utilities.data.AttributeDict"]
_OMEGACONF = [f"omegaconf.{n}" for n in (
    "dictconfig.DictConfig", "listconfig.ListConfig",
    "base.ContainerMetadata", "base.Metadata", "nodes.AnyNode", "nodes.StringNode",
    "nodes.IntegerNode", "nodes.FloatNode", "nodes.BooleanNode", "nodes.ValueNode")]
# plain values that hyper-parameter containers refer to (fetching them runs nothing)
_VALUES: list[tuple[Any, str]] = [(Any, "typing.Any"), (dict, "builtins.dict"),
                                  (list, "builtins.list"), (str, "builtins.str"),
                                  (int, "builtins.int"), (float, "builtins.float"),
                                  (collections.defaultdict, "collections.defaultdict")]


def _stub(base: type, full_name: str) -> tuple[type, str]:
    """A fresh stub class named like ``full_name`` (so messages and reprs read naturally)."""
    module, _, name = full_name.rpartition(".")
    return type(name, (base,), {"__module__": f"tvig_stub.{module}"}), full_name


ALLOWED: list[tuple[Any, str]] = (
    [_stub(LightningStub, n) for n in _CALLBACKS + _OMEGACONF]
    + [(dict, n) for n in _DICTS] + _VALUES)
ALLOWED_NAMES = frozenset(n for _, n in ALLOWED)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def load_checkpoint(f: "str | Path | IO[bytes]", name: "str | Path | None" = None, *,
                    asset: str | None = None) -> Any:
    """``torch.load(weights_only=True)`` with tvig's stub allow-list; never runs file code.

    ``name`` is the file named in errors (default: ``f``), ``asset`` the registry name the
    fix command names. Raises :class:`AssetError` (one line) when the file is not a readable
    checkpoint or asks for a global outside the allow-list.
    """
    name = str(name if name is not None else f)
    try:
        with torch.serialization.safe_globals(ALLOWED):
            return torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        bad = _unsafe_globals(f)
        if bad:
            raise AssetError(f"{name} refused: it asks for {', '.join(bad[:3])}, which could run "
                             "code on load (tvig loads "
                             f"tensors and known Lightning entries only); {force_hint(asset)}"
                             ) from None
        what = " ".join(str(e).split("WeightsUnpickler error:")[-1].split())[:200]
        raise AssetError(f"{name} is not a PyTorch checkpoint ({what}); "
                         f"{force_hint(asset)}") from None
    except FileNotFoundError:
        raise
    except Exception as e:  # zip/pickle damage, truncated, an HTML page, an empty file...
        raise AssetError(f"{name} is not a PyTorch checkpoint ({type(e).__name__}: "
                         f"{_first_line(e)}); {force_hint(asset)}") from None


def _unsafe_globals(f: "str | Path | IO[bytes]") -> list[str]:
    """The globals the file asks for that tvig does not allow (reading only, no unpickling)."""
    try:
        if hasattr(f, "seek"):
            f.seek(0)
        names = torch.serialization.get_unsafe_globals_in_checkpoint(f)
    except Exception:  # noqa: BLE001  (best effort: the message still names the file)
        return []
    return sorted(n for n in names if n not in ALLOWED_NAMES)


def check_safetensors(path: "str | Path", asset: str | None = None) -> None:
    """Refuse, in one line, a ``.safetensors`` file that is empty, truncated or not one at all.

    The format is an 8-byte little-endian header length, a JSON header giving each tensor's
    ``data_offsets``, then the data; the file must end exactly where the last tensor does.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors"); _ = open(p, "wb").write(b"<html>")
    >>> check_safetensors(p, "clip")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    tvig.errors.AssetError: ...w.safetensors is not a safetensors file (6 bytes...
    """
    path = Path(path)
    size = path.stat().st_size
    problem = None
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n < 2 or n > size - 8 or n > 100_000_000:
            problem = f"{size} bytes, no valid header; an HTML page or an empty file?"
        else:
            try:
                header = json.loads(f.read(n))
                end = max((int(v["data_offsets"][1]) for k, v in header.items()
                           if k != "__metadata__"), default=0)
            except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as e:
                problem = f"unreadable header: {type(e).__name__}"
            else:
                if 8 + n + end != size:
                    problem = (f"{size} bytes but its header describes {8 + n + end}; "
                               "truncated?")
    if problem:
        raise AssetError(f"{path} is not a safetensors file ({problem}); {force_hint(asset)}")
