"""CLIP through open_clip, as tensors in and unit embeddings out (no PIL in the loop).

Shared by the prompt generator (text ranking), the generator's guidance and the integrator's
scores. Images go in as float (B, 3, H, W) in [0, 1]; they are resized to CLIP's input size and
normalised with the model's own mean/std, all differentiably.

Example:
    >>> from tvig.models.clip import load_clip
    >>> from tvig.profiles import get_profile
    >>> clip = load_clip(get_profile("tiny"))
    >>> clip.encode_texts(["a photo of a nut"]).shape
    torch.Size([1, 64])
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tvig import assets
from tvig.errors import AssetError
from tvig.paths import PACKAGE_DATA
from tvig.profiles import Profile
from tvig.safe_load import check_safetensors
from tvig.seeding import seeded
from tvig.speed import SpeedConfig, autocast, split_on_oom

CONFIG_DIR = PACKAGE_DATA
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
_registered = False


def register_tiny_config() -> None:
    """Make tvig's tiny open_clip config (``tvig-tiny-clip``) known to open_clip."""
    global _registered
    if not _registered:
        # heavy: open_clip imports timm and tokenizers; only model loading needs it
        import open_clip

        open_clip.add_model_config(CONFIG_DIR)
        _registered = True


class Clip(nn.Module):
    """An open_clip model with tensor preprocessing; all outputs are L2-normalised."""

    def __init__(self, model: nn.Module, tokenizer, image_size: int,
                 mean: Sequence[float] = OPENAI_MEAN, std: Sequence[float] = OPENAI_STD,
                 name: str = "") -> None:
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.image_size = image_size
        self.name = name
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> resized to CLIP's input and normalised."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False, antialias=x.shape[-1] > self.image_size)
        return (x - self.mean) / self.std

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, D) unit vectors. Differentiable w.r.t. ``x``."""
        return F.normalize(self.model.encode_image(self.normalize(x)).float(), dim=-1)

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """List of T strings -> (T, D) unit vectors, encoded in batches."""
        if isinstance(texts, str):
            texts = [texts]
        out = []
        for i in range(0, len(texts), batch_size):
            tokens = self.tokenizer(list(texts[i:i + batch_size])).to(self.device)
            out.append(F.normalize(self.model.encode_text(tokens).float(), dim=-1))
        return torch.cat(out)


@torch.no_grad()
def embed_images(clip: Clip, x: torch.Tensor, *, speed: "SpeedConfig | None" = None,
                 batch_size: "int | None" = None) -> torch.Tensor:
    """The one batched CLIP image encoder (no gradients): (N, 3, H, W) in [0, 1] -> (N, D)
    float32 unit vectors on CPU. Batches of ``batch_size`` (default all) halve on
    out-of-memory; autocast as ``speed`` says. Used by prompt ranking, generation, scoring,
    the quality report and the set metrics, so the shots are prepared for CLIP one way."""
    x = x.to(clip.device, torch.float32)
    with autocast(speed, clip.device):
        emb = split_on_oom(lambda b: clip.encode_images(b).float(), x,
                           batch=batch_size or max(1, len(x)))
    return F.normalize(emb.float(), dim=-1).cpu()


def load_clip(profile: Profile, device: "str | torch.device" = "cpu") -> Clip:
    """Build the profile's CLIP. Real weights come from the asset cache (never downloaded
    here); ``random_weights`` profiles get a fixed random init (seed 0), so runs repeat."""
    import open_clip  # heavy: open_clip imports timm and tokenizers; only model loading needs it

    register_tiny_config()
    if profile.clip_asset is None:
        with seeded(0):
            model = open_clip.create_model(profile.clip_model, pretrained=None)
    else:
        model = _pretrained(open_clip, profile)
    cfg = open_clip.get_model_preprocess_cfg(model)
    size = cfg.get("size", 224)
    size = size[0] if isinstance(size, (tuple, list)) else size
    tokenizer = open_clip.get_tokenizer(profile.clip_model)
    clip = Clip(model, tokenizer, int(size), cfg.get("mean", OPENAI_MEAN), cfg.get("std", OPENAI_STD),
                name=profile.clip_model)
    return clip.to(device)


def clip_weights_file(profile: Profile) -> Path:
    """The cached weights file of the profile's CLIP asset (verified present)."""
    folder = assets.require(profile.clip_asset)
    return next(iter(sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
                     + sorted(folder.glob("*.pt"))))


def _pretrained(open_clip, profile: Profile) -> nn.Module:
    """open_clip's model with the cached weights; a damaged file is one line, not a traceback."""
    weights = clip_weights_file(profile)
    if weights.suffix == ".safetensors":
        check_safetensors(weights, profile.clip_asset)
    try:  # open_clip reads .bin/.pt files with weights_only=True
        return open_clip.create_model(profile.clip_model, pretrained=str(weights))
    except Exception as e:  # wrong model's weights, damaged tensors
        what = " ".join(str(e).split())[:200]
        raise AssetError(f"{weights} does not load into {profile.clip_model} ({type(e).__name__}: "
                         f"{what}); {assets.force_hint(profile.clip_asset)}") from None
