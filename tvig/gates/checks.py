"""The gates: one function per model, each returning a :class:`GateResult` (value vs threshold).

Thresholds (with their sources; each leaves a wide margin, because 13 photos are few):

- CLIP zero-shot top-1 >= 0.70 among the 13 photo names (chance: 1/13 = 0.08). CLIP ViT-B/32
  zero-shot reaches 91.3 % on CIFAR-10 and 97.2 % on STL-10 (Radford et al. 2021, "Learning
  Transferable Visual Models From Natural Language Supervision", Table 11); our photos are as
  distinct as those classes, so a working ViT-B/32 names 12-13 of them.
- VQGAN mean reconstruction PSNR >= 16 dB at the profile's size. The taming-transformers
  authors report rFID 4.98 for vqgan_imagenet_f16_16384 on ImageNet; later re-measurements of
  the same model give about 20 dB PSNR on ImageNet validation at 256 px (e.g. the tokenizer
  tables of Sun et al. 2024, LlamaGen). Our textures (gravel, grass, text) are harder than the
  average ImageNet image: margin 4 dB. A random VQGAN gives about 10 dB (a grey image).
- Backbone ImageNet top-5 holds an expected class for >= 3 of the 5 photos that have one (a
  ResNet-18 has 89 % top-5 accuracy on ImageNet; chance per photo is about 1 %).
- Chain: 5 guidance steps from the brick photo towards "a photo of a brick wall" must raise
  the CLIP cosine of the decoded image (a pipeline check: it also passes on random weights).

>>> r = GateResult("clip", "x.safetensors", "zero-shot top-1", 0.5, 0.7, False, 0.1)
>>> r.row()[3:6]
('0.500', '>= 0.7', 'FAIL')
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch

from tvig.gates.photos import PHOTOS, TEMPLATE, Photo
from tvig.generator.guidance import spherical_distance

CLIP_MIN_TOP1 = 0.70
VQGAN_MIN_PSNR = 16.0  # dB
BACKBONE_MIN_FRACTION = 0.6  # of the photos with ImageNet classes
CHAIN_STEPS = 5
CHAIN_MIN_RISE = 1e-4  # cosine units: 'raised', not noise
CHAIN_LR = 0.1
PSNR_CAP = 99.0  # a perfect reconstruction (identity) reads as 99 dB, not inf


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome: table row and JSON record."""

    model: str
    file: str
    gate: str
    value: float
    threshold: float
    passed: bool
    seconds: float
    note: str = ""
    skipped: bool = False

    def row(self) -> tuple[str, ...]:
        """(model, file, gate, value, threshold, pass/fail, seconds) as table cells."""
        verdict = "skip" if self.skipped else ("pass" if self.passed else "FAIL")
        value = "-" if self.skipped else f"{self.value:.3f}"
        return (self.model, self.file, self.gate, value, f">= {self.threshold:g}", verdict,
                f"{self.seconds:.1f}")

    def to_dict(self) -> dict:
        """JSON-ready (a NaN value, e.g. a skipped gate, becomes None)."""
        d = asdict(self)
        d["value"] = self.value if math.isfinite(self.value) else None
        return d


def _timed(fn: Callable[[], tuple[float, str]]) -> tuple[float, str, float]:
    t = time.perf_counter()
    value, note = fn()
    return value, note, time.perf_counter() - t


@torch.no_grad()
def clip_gate(clip, photos: torch.Tensor, *, model: str = "clip", file: str = "-",
              names: Sequence[Photo] = PHOTOS) -> GateResult:
    """Zero-shot top-1 of ``photos`` (N, 3, H, W) among ``names``' labels."""

    def measure() -> tuple[float, str]:
        img = clip.encode_images(photos.to(clip.device))  # (N, D)
        txt = clip.encode_texts([TEMPLATE.format(p.name) for p in names])  # (N, D)
        pred = (img @ txt.T).argmax(1).cpu()
        wrong = [f"{p.key}->{names[int(j)].key}" for i, (p, j) in enumerate(zip(names, pred))
                 if int(j) != i]
        return float((pred == torch.arange(len(names))).float().mean()), \
            ("wrong: " + ", ".join(wrong[:4]) if wrong else "")

    v, note, s = _timed(measure)
    return GateResult(model, file, "zero-shot top-1", v, CLIP_MIN_TOP1, v >= CLIP_MIN_TOP1, s,
                      note)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of images in [0, 1], (N, 3, H, W) -> (N,), capped at 99 dB."""
    mse = (x - y).pow(2).flatten(1).mean(1).clamp_min(10 ** (-PSNR_CAP / 10))
    return -10 * torch.log10(mse)


@torch.no_grad()
def vqgan_gate(vqgan, photos: torch.Tensor, *, model: str = "vqgan", file: str = "-"
               ) -> GateResult:
    """Mean reconstruction PSNR of ``photos`` at their size (one at a time: bounded memory)."""

    def measure() -> tuple[float, str]:
        dev = getattr(vqgan, "device", photos.device)
        per = torch.cat([psnr(vqgan(x[None].to(dev)).cpu().float(), x[None]) for x in photos])
        worst = int(per.argmin())
        return float(per.mean()), f"worst {PHOTOS[worst].key if len(per) == len(PHOTOS) else worst}" \
            f" {float(per[worst]):.1f} dB"

    v, note, s = _timed(measure)
    return GateResult(model, file, "reconstruction PSNR (dB)", v, VQGAN_MIN_PSNR,
                      v >= VQGAN_MIN_PSNR, s, note)


@torch.no_grad()
def backbone_gate(classify: Callable[[torch.Tensor], torch.Tensor], photos: torch.Tensor, *,
                  model: str, file: str = "-", names: Sequence[Photo] = PHOTOS) -> GateResult:
    """Share of the photos with ImageNet classes whose top-5 of ``classify`` (images in [0, 1]
    -> (N, 1000) logits, normalisation included) holds one of them."""

    def measure() -> tuple[float, str]:
        idx = [i for i, p in enumerate(names) if p.imagenet]
        top5 = classify(photos[idx]).topk(5, dim=1).indices.cpu()  # (n, 5)
        hits = [bool(set(top5[k].tolist()) & set(names[i].imagenet)) for k, i in enumerate(idx)]
        missed = [names[i].key for k, i in enumerate(idx) if not hits[k]]
        return sum(hits) / len(hits), ("missed: " + ", ".join(missed) if missed else "")

    v, note, s = _timed(measure)
    return GateResult(model, file, "ImageNet top-5 hit rate", v, BACKBONE_MIN_FRACTION,
                      v >= BACKBONE_MIN_FRACTION, s, note)


def chain_gate(vqgan, clip, brick: torch.Tensor, *, steps: int = CHAIN_STEPS,
               text: str = "a photo of a brick wall") -> GateResult:
    """Guidance steps on the VQGAN latent of ``brick`` (3, H, W) raise its CLIP cosine to ``text``.

    The value is the rise of the cosine (after - before); the gate wants it >= 1e-4.
    """

    def measure() -> tuple[float, str]:
        with torch.no_grad():
            t = clip.encode_texts([text])  # (1, D)
            z = vqgan.encode(brick[None].to(vqgan.device)).clone()  # (1, C, h, w)

        def cosine(z_: torch.Tensor) -> torch.Tensor:
            return (clip.encode_images(vqgan.decode(vqgan.quantize(z_))) @ t.T).squeeze()

        with torch.no_grad():
            before = float(cosine(z))
        z.requires_grad_(True)
        opt = torch.optim.Adam([z], lr=CHAIN_LR)
        for _ in range(steps):
            emb = clip.encode_images(vqgan.decode(vqgan.quantize(z)))
            loss = spherical_distance(emb, t).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            after = float(cosine(z))
        if not math.isfinite(after):
            return float("nan"), "NaN after the steps"
        return after - before, f"cosine {before:.3f} -> {after:.3f} in {steps} steps"

    v, note, s = _timed(measure)
    return GateResult("chain", "-", "CLIP cosine rise", v, CHAIN_MIN_RISE, v >= CHAIN_MIN_RISE, s,
                      note)
