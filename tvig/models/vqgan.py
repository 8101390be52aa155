"""The VQGAN of taming-transformers, rebuilt from ``taming.modules`` (no Lightning).

:class:`VQGAN` is ``Encoder -> quant_conv -> VectorQuantizer2 -> post_quant_conv -> Decoder``
with the same submodule names as taming's ``VQModel``, so the ``state_dict`` of a taming
checkpoint (``last.ckpt``, a Lightning checkpoint) loads into it unchanged once the
discriminator/LPIPS ``loss.*`` entries are dropped. Images are ``[0, 1]`` outside and taming's
``[-1, 1]`` inside.

Example:
    >>> from tvig.profiles import get_profile
    >>> vq = load_vqgan(get_profile("tiny"))            # random weights (seed 0)
    >>> x = torch.rand(2, 3, 64, 64)
    >>> z = vq.encode(x); z.shape                       # pre-quantisation latent
    torch.Size([2, 16, 16, 16])
    >>> vq.decode(vq.quantize(z)).shape
    torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

import contextlib
import io
import pickle
import types
from pathlib import Path

import torch
import yaml
from torch import nn

from tvig import assets, atomic
from tvig.errors import AssetError
from tvig.profiles import VQGAN_ARCHS, Profile, VQGANArch
from tvig.seeding import seeded

BETA = 0.25  # taming's commitment weight; unused at inference, kept for config parity


class _ClampWithGrad(torch.autograd.Function):
    """Clamp whose gradient still flows when it points back into the range (VQGAN-CLIP)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(x)
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        keep = grad * (x - x.clamp(ctx.lo, ctx.hi)) >= 0
        return grad * keep, None, None


class VQGAN(nn.Module):
    """taming's VQModel without its loss: encode, quantize (straight-through), decode.

    The quantizer is registered under taming's name ``quantize`` (so checkpoint keys are
    ``quantize.embedding.weight``); the method :meth:`quantize` shadows the attribute, and the
    module itself is :attr:`quantizer`.
    """

    def __init__(self, arch: VQGANArch) -> None:
        super().__init__()
        # heavy: taming pulls in its model zoo; only the VQGAN builder needs it
        from taming.modules.diffusionmodules.model import Decoder, Encoder
        # heavy: taming pulls in its model zoo; only the VQGAN builder needs it
        from taming.modules.vqvae.quantize import VectorQuantizer2

        self.arch = arch
        dd = arch.ddconfig()
        self.encoder = Encoder(**dd)
        with contextlib.redirect_stdout(io.StringIO()):  # taming prints the z shape
            self.decoder = Decoder(**dd)
        # add_module() refuses a name the class already uses; register it directly.
        self._modules["quantize"] = VectorQuantizer2(arch.n_embed, arch.embed_dim, beta=BETA)
        self.quant_conv = nn.Conv2d(arch.z_channels, arch.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(arch.embed_dim, arch.z_channels, 1)
        self.eval().requires_grad_(False)

    @property
    def quantizer(self) -> nn.Module:
        """The ``VectorQuantizer2`` (codebook: ``quantizer.embedding.weight``, (n_embed, C))."""
        return self._modules["quantize"]

    @property
    def device(self) -> torch.device:
        return self.quant_conv.weight.device

    def latent_shape(self, image_size: int) -> tuple[int, int, int]:
        """(C, h, w) of the latent of a square ``image_size`` image."""
        s = image_size // self.arch.downsample
        return (self.arch.embed_dim, s, s)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, C, H/f, W/f) pre-quantisation latent."""
        return self.quant_conv(self.encoder(x * 2 - 1))

    def codebook_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel (min, max) of the codebook, each (1, C, 1, 1)."""
        w = self.quantizer.embedding.weight  # (n_embed, C)
        return w.min(0).values.view(1, -1, 1, 1), w.max(0).values.view(1, -1, 1, 1)

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> nearest codebook vectors, same shape.

        z is first clamped to the codebook's per-channel range; the gradient w.r.t. ``z`` is
        the identity (straight-through), so it reaches whatever produced ``z``.
        """
        lo, hi = self.codebook_range()
        zc = torch.maximum(torch.minimum(z, hi), lo)
        z_q, _, _ = self.quantizer(zc)
        return z + (z_q - z).detach()

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) quantised latent -> (B, 3, H, W) in [0, 1] (clamp keeps useful grads)."""
        x = self.decoder(self.post_quant_conv(z_q))
        return _ClampWithGrad.apply((x + 1) / 2, 0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction: decode(quantize(encode(x)))."""
        return self.decode(self.quantize(self.encode(x)))


# ---------------------------------------------------------------------------------- loading
RANDOM_CODEBOOK_STD = 0.3  # ~ the spread of a random encoder's latents


def build_vqgan(arch: "str | VQGANArch", *, seed: int = 0) -> VQGAN:
    """A VQGAN of ``arch`` with a fixed random init (``seeded(seed)``).

    The codebook is drawn from N(0, 0.3^2) instead of taming's U(+-1/n_embed), so that the
    latents of a random encoder spread over many codes instead of all hitting a few.
    """
    if isinstance(arch, str):
        arch = VQGAN_ARCHS[arch]
    with seeded(seed):
        model = VQGAN(arch)
        model.quantizer.embedding.weight.normal_(0.0, RANDOM_CODEBOOK_STD)
    return model


def load_vqgan(profile: Profile, device: "str | torch.device" = "cpu") -> VQGAN:
    """The profile's VQGAN: random init for ``random_weights`` archs (no asset), else the
    taming ``model.yaml`` + ``last.ckpt`` from the asset cache (never downloaded here)."""
    arch = profile.arch
    if arch.asset is None:
        return build_vqgan(arch).to(device)

    folder = assets.require(arch.asset)
    try:
        model = load_vqgan_files(folder / "model.yaml", folder / "last.ckpt", arch)
    except AssetError as e:  # the registry has no sha256 for these files: say how to replace
        raise AssetError(f"{e}\nReplace the cached files with:  tvig download --force "
                         f"{arch.asset}") from None
    return model.to(device)


def load_vqgan_files(config: "str | Path | None", ckpt: "str | Path",
                     arch: "str | VQGANArch") -> VQGAN:
    """Build ``arch`` and load a taming checkpoint into it, checking the yaml when given.

    Raises :class:`AssetError` naming the file and what differs when the yaml describes
    another architecture, the file is not a checkpoint, or its keys/shapes do not match.
    """
    if isinstance(arch, str):
        arch = VQGAN_ARCHS[arch]
    if config is not None:
        check_config(config, arch)
    state = read_state_dict(ckpt)
    with seeded(0):
        model = VQGAN(arch)
    _check_keys(model, state, ckpt, arch)
    model.load_state_dict(state, strict=True)
    return model.eval().requires_grad_(False)


def check_config(path: "str | Path", arch: VQGANArch) -> None:
    """Compare a taming ``model.yaml`` with ``arch``; AssetError listing differing fields."""

    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text())
        params = cfg["model"]["params"]
        dd = params["ddconfig"]
    except FileNotFoundError:
        raise AssetError(f"VQGAN config not found: {path}") from None
    except (yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise AssetError(f"{path} is not a taming-transformers model.yaml (need model.params."
                         f"ddconfig; {type(e).__name__}: {e})") from None
    want = {"embed_dim": arch.embed_dim, "n_embed": arch.n_embed, **arch.ddconfig()}
    have = {"embed_dim": params.get("embed_dim"), "n_embed": params.get("n_embed"), **dd}
    diff = []
    for k, v in want.items():
        got = have.get(k, "<missing>")
        if isinstance(got, (list, tuple)):
            got = list(got)
        if k == "dropout" or got == v:
            continue
        diff.append(f"{k}: file {got!r} vs {arch.name} {v!r}")
    if diff:
        raise AssetError(f"{path} describes another VQGAN than {arch.name!r}: " + "; ".join(diff)
                         + " (wrong asset folder, or choose the matching vqgan in the profile)")


def read_state_dict(path: "str | Path") -> dict[str, torch.Tensor]:
    """The model weights of a Lightning ``.ckpt`` (``state_dict`` without ``loss.*``).

    A bare state_dict file is accepted too. Anything else raises :class:`AssetError`.
    """
    path = Path(path)
    if not path.is_file():
        raise AssetError(f"VQGAN checkpoint not found: {path}")
    obj = _torch_load(path)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        sd = obj["state_dict"]
    elif isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        sd = obj
    else:
        keys = list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise AssetError(f"{path} is not a taming/Lightning checkpoint: no 'state_dict' "
                         f"(found {keys}); expected the VQGAN's last.ckpt")
    return {k: v for k, v in sd.items() if not k.startswith("loss.")}


def _torch_load(path: Path):
    """torch.load, safe mode first; old Lightning pickles fall back to a lenient unpickler
    that stubs classes which are not installed (e.g. pytorch_lightning callbacks)."""

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # not tensors-only: try the lenient way below
    except Exception as e:  # zip/pickle damage, an image, a text file...
        raise AssetError(f"{path} is not a PyTorch checkpoint ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:200]}); re-download it with tvig download"
                         ) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False,
                          pickle_module=_lenient_pickle())
    except Exception as e:
        raise AssetError(f"{path} could not be read as a checkpoint ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:200]})") from None


def _lenient_pickle():
    class _Stub:
        def __init__(self, *a, **k) -> None:
            pass

        def __setstate__(self, state) -> None:
            self.state = state

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            try:
                return super().find_class(module, name)
            except (ImportError, AttributeError):
                return type(name, (_Stub,), {"__module__": module})

    mod = types.ModuleType("tvig_lenient_pickle")
    mod.Unpickler = Unpickler
    mod.load = lambda f, **kw: Unpickler(f, **kw).load()
    mod.__dict__.update({k: getattr(pickle, k) for k in ("UnpicklingError", "HIGHEST_PROTOCOL")})
    return mod


def _check_keys(model: VQGAN, state: dict[str, torch.Tensor], path: "str | Path",
                arch: VQGANArch) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s), first: {', '.join(missing[:3])}")
        if extra:
            parts.append(f"{len(extra)} unexpected key(s), first: {', '.join(extra[:3])}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es) (file vs {arch.name}), first: "
                         f"{'; '.join(shapes[:3])}")
        raise AssetError(f"{path} does not match the VQGAN architecture {arch.name!r}: "
                         + "; ".join(parts) + " (a checkpoint of another model?)")


def write_taming_files(model: VQGAN, folder: "str | Path", *,
                       extra_state: "dict[str, torch.Tensor] | None" = None) -> Path:
    """Save ``model`` as taming does: ``folder/model.yaml`` + Lightning-style ``last.ckpt``.

    ``extra_state`` (e.g. ``loss.*`` tensors) is added to the state_dict, as in real files.
    """

    folder = Path(folder)
    a = model.arch
    cfg = {"model": {"base_learning_rate": 4.5e-6, "target": "taming.models.vqgan.VQModel",
                     "params": {"embed_dim": a.embed_dim, "n_embed": a.n_embed,
                                "ddconfig": a.ddconfig(),
                                "lossconfig": {"target": "taming.modules.losses.vqperceptual."
                                                         "VQLPIPSWithDiscriminator"}}}}
    atomic.write_text(folder / "model.yaml", yaml.safe_dump(cfg, sort_keys=False))
    sd = {**model.state_dict(), **(extra_state or {})}
    buf = io.BytesIO()
    torch.save({"epoch": 0, "global_step": 0, "pytorch-lightning_version": "1.0.8",
                "state_dict": sd}, buf)
    atomic.write_bytes(folder / "last.ckpt", buf.getvalue())
    return folder
