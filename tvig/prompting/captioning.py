"""An image caption as a comparison prompt (the paper's preliminary experiment), via BLIP.

Uses ``transformers``' BLIP (``Salesforce/blip-image-captioning-base``) only when its weights
are already in the Hugging Face cache: tvig never downloads it behind your back. Offline and
absent, :func:`caption_images` returns no captions and a note saying how to get them.

Example:
    >>> caps, note = caption_images(x)           # doctest: +SKIP
    >>> caps or note                              # doctest: +SKIP
    ['a metal nut on a black surface']
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from tvig import assets
from tvig.images import tensor_to_pil

BLIP_REPO = "Salesforce/blip-image-captioning-base"
ASSET_NAME = "blip_image_captioning_base"
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def blip_present(repo: str = BLIP_REPO) -> bool:
    """True when config and weights of ``repo`` are in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache  # heavy: only the cache look-up needs it

    if not isinstance(try_to_load_from_cache(repo, "config.json"), str):
        return False
    return any(isinstance(try_to_load_from_cache(repo, f), str) for f in _WEIGHTS)


def missing_note(repo: str = BLIP_REPO) -> str:
    return (f"caption comparison skipped: the captioning model {repo} is not in the local "
            f"Hugging Face cache (tvig never downloads it by itself). With network: "
            f"tvig download {ASSET_NAME}")


def download_blip(repo: str = BLIP_REPO) -> str:
    """Fetch the captioner into the Hugging Face cache (needs network); returns its folder."""
    from huggingface_hub import snapshot_download  # heavy: only the cache look-up needs it

    return snapshot_download(repo, allow_patterns=["*.json", "*.txt", "model.safetensors"])


def _fetch(log) -> Path:
    folder = Path(download_blip())
    log(f"{ASSET_NAME}: in the Hugging Face cache -> {folder}")
    return folder


assets.register(assets.Asset(
    ASSET_NAME,
    (assets.AssetFile("model.safetensors", (assets.HF_URL.format(repo=BLIP_REPO,
                                                                 file="model.safetensors"),)),),
    licence="BSD-3-Clause (Salesforce BLIP)",
    description="BLIP image captioner (transformers, Hugging Face cache), optional: "
                "the caption comparison prompt of notebook 01, ~990 MB",
    kind="external", present=blip_present, fetch=_fetch))


@torch.no_grad()
def caption_images(x: torch.Tensor, device: "str | torch.device" = "cpu", repo: str = BLIP_REPO,
                   max_new_tokens: int = 30) -> tuple[list[str] | None, str]:
    """Captions of the (k, 3, H, W) [0, 1] images, or ``(None, note)`` when BLIP is absent."""
    if not blip_present(repo):
        return None, missing_note(repo)
    # heavy: transformers takes seconds to import; only captioning needs it
    from transformers import BlipForConditionalGeneration, BlipProcessor

    proc = BlipProcessor.from_pretrained(repo, local_files_only=True)
    model = BlipForConditionalGeneration.from_pretrained(repo, local_files_only=True)
    model = model.to(device).eval()
    inputs = proc(images=[tensor_to_pil(i) for i in x], return_tensors="pt").to(device)
    out = model.generate(**inputs, max_new_tokens=max_new_tokens)
    captions: Sequence[str] = proc.batch_decode(out, skip_special_tokens=True)
    return [c.strip() for c in captions], f"captions by {repo}"
