"""The latent distribution of the generator: a mixture of Gaussians over VQGAN latents, one per shot.

Component j of k (DESIGN.md §2): ``mu_0^j`` = shot j's own pre-quantisation latent (not a mean
of augmented copies, which decodes to a ghost), ``sigma_0^j`` = per-element RMS deviation from
``mu_0^j`` of the latents of status-consistent augmentations of shot j
(:mod:`tvig.augmentations`), floored. Candidate i belongs to component ``i mod k``
(:func:`components`). :func:`latent_stats` builds it, :func:`sample` draws
``z = mu^j + sigma^j * eps``, :func:`kl_divergence` is the closed-form KL of diagonal Gaussians.

Example:
    >>> import torch
    >>> d = LatentDist(mu=torch.zeros(2, 4, 2, 2), sigma=torch.ones(2, 4, 2, 2))
    >>> d.k, sample(d, 3, seed=0).shape, components(3, d.k).tolist()
    (2, torch.Size([3, 4, 2, 2]), [0, 1, 0])
    >>> float(kl_divergence(d.mu, d.sigma, d.mu, d.sigma))
    0.0
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from tvig import atomic
from tvig.augmentations import AugmentRules, augment, rules_for
from tvig.errors import InputError
from tvig.images import to_uint8
from tvig.profiles import Profile
from tvig.seeding import generator
from tvig.speed import SpeedConfig, autocast, split_on_oom


@dataclass
class LatentDist:
    """A mixture of k diagonal Gaussians over latents, one component per shot.

    ``mu``, ``sigma`` (k, C, h, w), sigma > 0 (a (C, h, w) pair is one component).
    ``round_trip`` (k,): each shot's own round-trip latent distance (encode -> quantise ->
    decode -> encode) under its component, the unit of the score's D (None: D uncalibrated).
    """

    mu: torch.Tensor
    sigma: torch.Tensor
    round_trip: "torch.Tensor | None" = None

    def __post_init__(self) -> None:
        if self.mu.ndim == 3:
            self.mu = self.mu.unsqueeze(0)
        if self.sigma.ndim == 3:
            self.sigma = self.sigma.unsqueeze(0)
        if self.mu.shape != self.sigma.shape:
            raise InputError(f"mu {tuple(self.mu.shape)} and sigma {tuple(self.sigma.shape)} "
                             "of a latent distribution must have the same (k, C, h, w) shape")

    @property
    def k(self) -> int:
        """Number of components (shots)."""
        return int(self.mu.shape[0])

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return tuple(self.mu.shape[1:])

    def to(self, device: "str | torch.device") -> "LatentDist":
        rt = None if self.round_trip is None else self.round_trip.to(device)
        return LatentDist(self.mu.to(device), self.sigma.to(device), rt)

    def detach(self) -> "LatentDist":
        rt = None if self.round_trip is None else self.round_trip.detach().clone()
        return LatentDist(self.mu.detach().clone(), self.sigma.detach().clone(), rt)

    def select(self, comp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, sigma) of each candidate's component: comp (N,) -> two (N, C, h, w)."""
        comp = comp.to(self.mu.device)
        return self.mu[comp], self.sigma[comp]

    def save(self, path: "str | Path", **meta: Any) -> Path:
        """Write ``{"mu", "sigma", **meta}`` with torch.save, atomically."""

        buf = io.BytesIO()
        rt = None if self.round_trip is None else self.round_trip.detach().cpu()
        torch.save({"mu": self.mu.detach().cpu(), "sigma": self.sigma.detach().cpu(),
                    "round_trip": rt, **meta}, buf)
        atomic.write_bytes(path, buf.getvalue())
        return Path(path)

    @classmethod
    def load(cls, path: "str | Path") -> "LatentDist":
        try:
            d = torch.load(Path(path), map_location="cpu", weights_only=True)
            return cls(d["mu"], d["sigma"], d.get("round_trip"))
        except FileNotFoundError:
            raise InputError(f"latent file not found: {path} (run notebook 02 first)") from None
        except Exception as e:
            raise InputError(f"{path} is not a tvig latent file ({type(e).__name__}: {e}); "
                             "delete it and run notebook 02 again") from None


def components(n: int, k: int, offset: int = 0) -> torch.Tensor:
    """Component of each of n candidates: ``(offset + i) mod k`` -> (n,) long.

    ``offset`` continues the round robin across rounds, so with more shots than candidates
    every shot gets its turn.
    """
    return (torch.arange(n) + int(offset)) % int(k)


def _resize(shots: torch.Tensor, size: int) -> torch.Tensor:
    if shots.shape[-2:] == (size, size):
        return shots
    return F.interpolate(shots, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)


def shot_augmentations(shots: torch.Tensor, count: int, rules: AugmentRules, *,
                       seed: int) -> torch.Tensor:
    """(k, 3, S, S) -> (count, k, 3, S, S): ``count`` status-consistent augmentations per shot."""
    x = augment(shots.repeat(count, 1, 1, 1), rules, seed=seed)  # (count * k, 3, S, S)
    return x.view(count, *shots.shape)


def clamp_to_codebook(vqgan, z: torch.Tensor) -> torch.Tensor:
    """z (..., C, h, w) clamped to the codebook's per-channel (min, max) range."""
    lo, hi = vqgan.codebook_range()
    return torch.maximum(torch.minimum(z, hi.to(z)), lo.to(z))


def _encode(vqgan, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([vqgan.encode(b) for b in x.split(batch_size)])


def latent_stats(vqgan, shots: torch.Tensor, profile: Profile, *, seed: int,
                 rules: "AugmentRules | None" = None, batch_size: int = 8) -> LatentDist:
    """The per-shot mixture: mu_0^j = shot j's latent, sigma_0^j from ``profile.n_augment``
    augmentations of it (``rules``, default: the conservative default rules), floored at
    ``profile.sigma_floor``; ``round_trip`` = each shot's own round-trip distance. Latents
    are clamped to the codebook's range (where the optimiser keeps mu; the decoder's
    quantiser clamps there anyway, so mu_0^j still decodes to shot j's reconstruction).

    sigma_0^j is the RMS deviation sqrt(mean_a (z_a - mu_0^j)^2) of the augmented latents
    from the shot's own latent (the spread *around the shot*).
    """
    if shots.ndim != 4 or shots.shape[1] != 3 or shots.shape[0] < 1:
        raise InputError(f"shots must be a (k, 3, H, W) tensor with k >= 1, got "
                         f"{tuple(shots.shape)}")
    rules = rules or rules_for("")
    shots = _resize(shots.to(vqgan.device, torch.float32), profile.image_size)
    aug = shot_augmentations(shots, profile.n_augment, rules, seed=seed)  # (A, k, 3, S, S)
    with torch.inference_mode():
        mu = clamp_to_codebook(vqgan, _encode(vqgan, shots, batch_size))  # (k, C, h, w)
        z = clamp_to_codebook(vqgan, _encode(vqgan, aug.flatten(0, 1), batch_size))
        z = z.view(*aug.shape[:2], *mu.shape[1:])  # (A, k, C, h, w)
        sigma = ((z - mu) ** 2).mean(0).sqrt().clamp_min(profile.sigma_floor)
        # the shot's own round trip, through exactly what a candidate goes through (uint8 PNG)
        recon = to_uint8(vqgan.decode(vqgan.quantize(mu))).float() / 255.0
        z_rt = _encode(vqgan, recon, batch_size)
        rt = raw_distance(z_rt, mu, sigma).clamp_min(1e-6)  # (k,)
    return LatentDist(mu.clone(), sigma.clone(), rt.clone())


def raw_distance(z: torch.Tensor, mu0: torch.Tensor, sigma0: torch.Tensor) -> torch.Tensor:
    """mean_{C,h,w} ((z - mu_0) / sigma_0)^2: z (N, C, h, w), mu0/sigma0 (N or 1, C, h, w)
    or (C, h, w) -> (N,). A draw from N(mu_0, sigma_0^2) has expectation 1."""
    if z.shape[-3:] != mu0.shape[-3:] or mu0.shape != sigma0.shape:
        raise ValueError(f"latent shapes disagree: z {tuple(z.shape)}, mu0 {tuple(mu0.shape)}, "
                         f"sigma0 {tuple(sigma0.shape)}")
    return (((z - mu0) / sigma0) ** 2).flatten(1).mean(1)


def sample(dist: LatentDist, n: int, *, seed: int = 0, scale: float = 1.0,
           offset: int = 0) -> torch.Tensor:
    """n latents z_i = mu^j + scale * sigma^j * eps_i, j = (offset + i) mod k, eps from a
    generator seeded with ``seed`` -> (n, C, h, w). The eps of ``seed`` equal those of the
    first step of :func:`tvig.generator.optimisation.optimise`.
    """
    mu, sigma = dist.select(components(n, dist.k, offset))
    eps = torch.randn((n, *dist.latent_shape), generator=generator(seed, dist.mu.device),
                      device=dist.mu.device)
    return mu + scale * sigma * eps


def sample_seeded(dist: LatentDist, seeds: Sequence[int], comps: torch.Tensor) -> torch.Tensor:
    """One latent per seed from component ``comps[i]`` (N,), each eps from its own CPU
    generator, so draw i is the same whatever batch it is decoded in -> (N, C, h, w) on CPU."""
    eps = torch.stack([torch.randn(dist.latent_shape, generator=torch.Generator().manual_seed(
        int(s))) for s in seeds])
    mu, sigma = dist.to("cpu").select(comps.cpu())
    return mu + sigma * eps


def decode(vqgan, z: torch.Tensor, speed: "SpeedConfig | None" = None) -> torch.Tensor:
    """quantize (fp32) + decode (autocast on CUDA) -> float32 images (B, 3, H, W) in [0, 1]."""
    z_q = vqgan.quantize(z)
    with autocast(speed, z.device):
        return vqgan.decode(z_q).float()


@torch.inference_mode()
def draw_images(vqgan, dist: LatentDist, seeds: Sequence[int], comps: torch.Tensor, *,
                speed: "SpeedConfig | None" = None, batch: "int | None" = None) -> torch.Tensor:
    """Decode one draw per seed (:func:`sample_seeded`) -> (N, 3, H, W) in [0, 1]; the
    batches halve on out-of-memory and do not change the draws."""
    z = sample_seeded(dist, seeds, comps).to(vqgan.device)
    return split_on_oom(lambda b: decode(vqgan, b, speed), z, batch=batch).clamp(0, 1)


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
