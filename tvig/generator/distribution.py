"""The latent distribution of the generator: a Gaussian over VQGAN latents, and its draws.

:func:`latent_stats` encodes the shots and status-consistent augmentations of them into
``mu_0`` and ``sigma_0``; :func:`sample` draws ``z = mu + sigma * eps``; :func:`kl_divergence`
is the closed-form KL between two diagonal Gaussians.

Example:
    >>> import torch
    >>> d = LatentDist(mu=torch.zeros(4, 2, 2), sigma=torch.ones(4, 2, 2))
    >>> sample(d, 3, seed=0).shape
    torch.Size([3, 4, 2, 2])
    >>> float(kl_divergence(d.mu, d.sigma, d.mu, d.sigma))
    0.0
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from tvig import atomic
from tvig.errors import InputError
from tvig.profiles import Profile
from tvig.seeding import generator, seeded


@dataclass
class LatentDist:
    """A diagonal Gaussian over latents: ``mu`` and ``sigma`` are (C, h, w), sigma > 0."""

    mu: torch.Tensor
    sigma: torch.Tensor

    def to(self, device: "str | torch.device") -> "LatentDist":
        return LatentDist(self.mu.to(device), self.sigma.to(device))

    def detach(self) -> "LatentDist":
        return LatentDist(self.mu.detach().clone(), self.sigma.detach().clone())

    def save(self, path: "str | Path", **meta: Any) -> Path:
        """Write ``{"mu", "sigma", **meta}`` with torch.save, atomically."""

        buf = io.BytesIO()
        torch.save({"mu": self.mu.detach().cpu(), "sigma": self.sigma.detach().cpu(), **meta}, buf)
        atomic.write_bytes(path, buf.getvalue())
        return Path(path)

    @classmethod
    def load(cls, path: "str | Path") -> "LatentDist":
        try:
            d = torch.load(Path(path), map_location="cpu", weights_only=True)
            return cls(d["mu"], d["sigma"])
        except FileNotFoundError:
            raise InputError(f"latent file not found: {path} (run notebook 02 first)") from None
        except Exception as e:
            raise InputError(f"{path} is not a tvig latent file ({type(e).__name__}: {e}); "
                             "delete it and run notebook 02 again") from None


@dataclass(frozen=True)
class ShotAugment:
    """Status-consistent augmentations for :func:`latent_stats` (keep a good part good)."""

    shift: float = 0.06  # max translation, fraction of the side
    flip: bool = True  # horizontal flips
    vflip: bool = False  # vertical flips (only for classes where they are harmless)
    jitter: float = 0.05  # brightness / contrast / saturation jitter


def augment_shots(shots: torch.Tensor, count: int, aug: ShotAugment, *, seed: int) -> torch.Tensor:
    """(k, 3, S, S) -> (k * count, 3, S, S) augmented copies (kornia, seeded)."""
    import kornia.augmentation as K  # heavy: kornia takes ~1 s to import; only augmentation needs it

    ops = [K.RandomAffine(degrees=0.0, translate=(aug.shift, aug.shift), p=1.0,
                          padding_mode="reflection")]
    if aug.flip:
        ops.append(K.RandomHorizontalFlip(p=0.5))
    if aug.vflip:
        ops.append(K.RandomVerticalFlip(p=0.5))
    if aug.jitter > 0:
        ops.append(K.ColorJitter(brightness=aug.jitter, contrast=aug.jitter,
                                 saturation=aug.jitter, p=1.0))
    with seeded(seed):
        return torch.nn.Sequential(*ops)(shots.repeat(count, 1, 1, 1)).clamp(0, 1)


def latent_stats(vqgan, shots: torch.Tensor, profile: Profile, *, seed: int,
                 augment: ShotAugment = ShotAugment(), batch_size: int = 8) -> LatentDist:
    """mu_0, sigma_0 (C, h, w) of the latents of the shots and ``profile.n_augment``
    augmentations per shot; sigma_0 >= ``profile.sigma_floor`` (so k = 1 works)."""
    if shots.ndim != 4 or shots.shape[1] != 3 or shots.shape[0] < 1:
        raise InputError(f"shots must be a (k, 3, H, W) tensor with k >= 1, got "
                         f"{tuple(shots.shape)}")
    s = profile.image_size
    shots = shots.to(vqgan.device, torch.float32)
    if shots.shape[-2:] != (s, s):
        shots = F.interpolate(shots, size=(s, s), mode="bilinear", align_corners=False,
                              antialias=True)
    x = torch.cat([shots, augment_shots(shots, profile.n_augment, augment, seed=seed)])
    with torch.inference_mode():
        z = torch.cat([vqgan.encode(b) for b in x.split(batch_size)])  # (M, C, h, w)
    mu = z.mean(0)
    sigma = z.std(0, unbiased=False).clamp_min(profile.sigma_floor)
    return LatentDist(mu.clone(), sigma.clone())


def sample(dist: LatentDist, n: int, *, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    """n latents z = mu + scale * sigma * eps, eps from a generator seeded with ``seed``.

    -> (n, C, h, w). The eps of ``seed`` equal those of the first step of :func:`optimise`.
    """
    eps = torch.randn((n, *dist.mu.shape), generator=generator(seed, dist.mu.device),
                      device=dist.mu.device)
    return dist.mu + scale * dist.sigma * eps


def sample_images(vqgan, dist: LatentDist, n: int, *, seed: int = 0,
                  scale: float = 1.0) -> torch.Tensor:
    """Decode n samples of ``dist`` (no gradients) -> (n, 3, H, W) in [0, 1]."""
    with torch.inference_mode():
        return vqgan.decode(vqgan.quantize(sample(dist.to(vqgan.device), n, seed=seed,
                                                  scale=scale)))


def kl_divergence(mu: torch.Tensor, sigma: torch.Tensor, mu0: torch.Tensor,
                  sigma0: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(mu0, sigma0^2)) of diagonal Gaussians, **mean over elements**.

    Per element: log(sigma0 / sigma) + (sigma^2 + (mu - mu0)^2) / (2 sigma0^2) - 1/2; the
    mean (not the sum) keeps lambda_kl independent of the latent size. 0 iff equal.
    """
    var_ratio = (sigma / sigma0) ** 2
    return 0.5 * (var_ratio + ((mu - mu0) / sigma0) ** 2 - 1 - var_ratio.log()).mean()


def mean_penalty(mu: torch.Tensor, mu0: torch.Tensor, sigma0: torch.Tensor) -> torch.Tensor:
    """The mu-dependent part of :func:`kl_divergence`: mean (mu - mu0)^2 / (2 sigma0^2).

    Used as the KL term when sigma is held fixed (the full KL is infinite at sigma = 0).
    """
    return (0.5 * ((mu - mu0) / sigma0) ** 2).mean()
