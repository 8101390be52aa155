"""The variance-aware generator's optimisation: Adam on (mu, log sigma), steered by CLIP.

1. :func:`latent_stats`: one component per shot: ``mu_0^j`` = shot j's latent, ``sigma_0^j``
   from status-consistent augmentations of it (:mod:`tvig.augmentations`), floored.
2. :func:`sample`: candidate i draws ``z = mu^j + sigma^j * eps``, j = i mod k; N candidates
   are one batch.
3. :func:`optimise`: Adam on (mu, log sigma) of every component. Per step: sample, quantise
   (straight-through), decode, and minimise ``lambda_text * text + lambda_img * image +
   lambda_kl * KL(N(mu^j, sigma^j^2) || N(mu_0^j, sigma_0^j^2))`` (KL of the components the
   candidates use). After every step mu is clamped to the codebook's per-channel range and
   sigma is kept >= ``profile.rho * sigma_0`` (the variance cannot collapse).

Example:
    >>> import torch
    >>> from tvig.generator import latent_stats
    >>> from tvig.profiles import get_profile
    >>> from tvig.models.vqgan import load_vqgan
    >>> from tvig.models.clip import load_clip
    >>> from tvig.generator.distribution import latent_stats
    >>> p = get_profile("tiny")
    >>> vq, clip = load_vqgan(p), load_clip(p)
    >>> shots = torch.rand(1, 3, 64, 64)
    >>> dist0 = latent_stats(vq, shots, p, seed=0)
    >>> res = optimise(vq, clip, dist0, text_emb=clip.encode_texts(["a photo of a nut"]),
    ...                shot_emb=clip.encode_images(shots).detach(), profile=p, n=2, seed=0,
    ...                progress=False)
    >>> res.images.shape, sorted(res.history), res.components.tolist()
    (torch.Size([2, 3, 64, 64]), ['image', 'kl', 'text', 'total'], [0, 0])
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from tvig.errors import ConfigError, NumericsError
from tvig.generator.distribution import (
    LatentDist,
    clamp_to_codebook,
    components,
    decode,
    kl_divergence,
    mean_penalty,
)
from tvig.generator.guidance import Cutouts, image_term, shot_center, text_term
from tvig.models.checkpointing import activation_checkpointing
from tvig.profiles import Profile
from tvig.seeding import generator, seeded
from tvig.speed import (
    OutOfMemory,
    SpeedConfig,
    autocast,
    free_memory,
    grad_scaler,
    split_on_oom,
    use_checkpointing,
)

TERMS = ("text", "image", "kl", "total")


@dataclass
class GenerationResult:
    images: torch.Tensor  # (n, 3, H, W) in [0, 1], decoded from z
    z: torch.Tensor  # (n, C, h, w) latents (before quantisation) of the final distribution
    dist: LatentDist  # final (mu, sigma), (k, C, h, w) each
    components: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))
    history: dict[str, list[float]] = field(default_factory=dict)  # term -> value per step
    seed: int = 0
    step_seconds: float = 0.0  # wall time per optimisation step (host waits at the end)


def _check(vqgan, clip, dist0: LatentDist, text_emb, shot_emb, profile: Profile, n: int,
           fixed_sigma) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n (candidates) must be a positive integer, got {n!r}")
    want = vqgan.latent_shape(profile.image_size)
    if dist0.latent_shape != want:
        raise ConfigError(f"latent distribution has shape {dist0.latent_shape}, but the VQGAN "
                          f"at {profile.image_size} px needs {want}; recompute it with "
                          "latent_stats for this profile")
    if fixed_sigma is not None and not fixed_sigma >= 0:
        raise ConfigError(f"fixed_sigma must be >= 0 or None, got {fixed_sigma!r}")
    d = text_emb.shape[-1]
    if shot_emb.ndim != 2 or shot_emb.shape[-1] != d or text_emb.ndim not in (1, 2):
        raise ConfigError(f"text_emb (T, D) and shot_emb (k, D) must share D; got "
                          f"{tuple(text_emb.shape)} and {tuple(shot_emb.shape)} (encode both "
                          "with the same CLIP)")


def optimise(vqgan, clip, dist0: LatentDist, *, text_emb: torch.Tensor, shot_emb: torch.Tensor,
             profile: Profile, n: int, seed: int, init: "LatentDist | None" = None,
             progress: bool = True, fixed_sigma: "float | None" = None,
             log_every: int = 10, speed: "SpeedConfig | None" = None,
             offset: int = 0) -> GenerationResult:
    """Optimise (mu, log sigma) for ``profile.steps`` steps with N = ``n`` candidates per step.

    ``text_emb`` (T, D) or (D,) prompt embedding(s); ``shot_emb`` (k, D) CLIP embeddings of
    the shots; ``init`` start (default ``dist0``, same k). Candidate i belongs to component
    ``(offset + i) mod k`` (:func:`~tvig.generator.distribution.components`). ``fixed_sigma``: hold sigma at this value
    and learn only mu (0 = plain VQGAN-CLIP from the shots' mean latent; the KL term is then
    :func:`mean_penalty`). ``speed``: autocast / micro-batches (:mod:`tvig.speed`); a step that
    runs out of device memory is redone with half the micro-batch. The host waits for the
    device only every ``log_every`` steps (NaN check, progress bar). Raises
    :class:`NumericsError` naming the first NaN/Inf step.
    """
    _check(vqgan, clip, dist0, text_emb, shot_emb, profile, n, fixed_sigma)

    speed = speed or SpeedConfig()
    dev = vqgan.device
    dist0 = dist0.to(dev)
    start = (init or dist0).to(dev)
    if start.k != dist0.k:
        raise ConfigError(f"init has {start.k} components but dist0 has {dist0.k} (one per shot)")
    comp = components(n, dist0.k, offset).to(dev)  # (n,) component of each candidate
    used = torch.unique(comp)  # components this batch optimises
    mu = clamp_to_codebook(vqgan, start.mu.detach().clone()).requires_grad_(True)  # (k, C, h, w)
    log_floor = (profile.rho * dist0.sigma).log()  # (k, C, h, w); -inf when rho = 0
    log_sigma = torch.maximum(start.sigma.detach().clamp_min(1e-8).log(), log_floor)
    log_sigma = log_sigma.requires_grad_(fixed_sigma is None)
    opt = torch.optim.Adam([mu] + ([log_sigma] if fixed_sigma is None else []), lr=profile.lr)
    text = F.normalize(text_emb.detach().reshape(-1, text_emb.shape[-1]).to(dev), dim=-1)
    center = shot_center(shot_emb.detach().to(dev))  # (D,)
    cut = Cutouts(clip.image_size, profile.cutouts, profile.cut_pow, profile.augment_strength)
    g = generator(seed, dev)
    lt, li, lk = profile.lambda_text, profile.lambda_img, profile.lambda_kl
    records: list[torch.Tensor] = []  # (4,) per step, synced only every log_every steps
    checked = 0
    chunk = n if speed.micro_batch is None else min(speed.micro_batch, n)
    scaler = grad_scaler(speed, dev)  # loss scaling for fp16 only

    def sigma_now() -> torch.Tensor:
        return log_sigma.exp() if fixed_sigma is None else torch.full_like(mu, fixed_sigma)

    def kl_now(sigma: torch.Tensor) -> torch.Tensor:
        """KL of each used component to its own real component, mean over elements."""
        m, s, m0, s0 = mu[used], sigma[used], dist0.mu[used], dist0.sigma[used]
        return kl_divergence(m, s, m0, s0) if fixed_sigma is None else mean_penalty(m, m0, s0)

    def guidance(eps: torch.Tensor, sigma: torch.Tensor, c: torch.Tensor):
        """Candidates mu^c + sigma^c * eps (b, C, h, w) -> per-candidate text, image terms (b,)."""
        b = eps.shape[0]
        z_q = vqgan.quantize(mu[c] + sigma[c] * eps)  # fp32: the codebook search stays exact
        with autocast(speed, dev):  # the two networks in bf16 on CUDA, the rest in fp32
            x = vqgan.decode(z_q).float()  # (b, 3, H, W)
        whole = F.interpolate(x, size=(clip.image_size,) * 2, mode="bilinear",
                              align_corners=False, antialias=x.shape[-1] > clip.image_size)
        views = torch.cat([cut(x), whole])  # (cutouts*b + b, 3, S, S)
        with autocast(speed, dev):
            emb = clip.encode_images(views)  # (cutouts*b + b, D) fp32
        return (text_term(emb[:-b].view(profile.cutouts, b, -1), text),
                image_term(emb[-b:], center))

    def step_batched(eps: torch.Tensor) -> torch.Tensor:
        sigma = sigma_now()
        t, i = guidance(eps, sigma, comp)
        t, i = t.mean(), i.mean()
        kl = kl_now(sigma)
        loss = lt * t + li * i + lk * kl
        scaler.scale(loss).backward()
        return torch.stack([t, i, kl, loss]).detach()

    def step_chunked(eps: torch.Tensor) -> torch.Tensor:
        """Same loss as step_batched, gradient accumulated over chunks of candidates."""
        kl = kl_now(sigma_now())
        scaler.scale(lk * kl).backward()
        t = i = torch.zeros((), device=dev)
        for part, c in zip(eps.split(chunk), comp.split(chunk)):
            tc, ic = guidance(part, sigma_now(), c)
            tc, ic = tc.sum(), ic.sum()
            scaler.scale((lt * tc + li * ic) / n).backward()
            t, i = t + tc.detach(), i + ic.detach()
        t, i, kl = t / n, i / n, kl.detach()
        return torch.stack([t, i, kl, lt * t + li * i + lk * kl])

    bar = tqdm(range(profile.steps), desc="optimise", disable=not progress, leave=False)
    t0 = time.perf_counter()
    ckpt = use_checkpointing(speed, dev, n=chunk, cutouts=profile.cutouts,
                             image_size=profile.image_size)
    with seeded(seed), activation_checkpointing(vqgan, clip, ckpt):
        for step in bar:
            eps = torch.randn((n, *mu.shape[1:]), generator=g, device=dev)
            while True:
                opt.zero_grad(set_to_none=True)
                try:
                    records.append(step_batched(eps) if chunk >= n else step_chunked(eps))
                    break
                except torch.OutOfMemoryError:
                    opt.zero_grad(set_to_none=True)
                    free_memory(dev)
                    if chunk == 1:
                        raise OutOfMemory(f"out of memory optimising one candidate on {dev}: "
                                          "use fewer cutouts or a smaller image_size") from None
                    chunk = max(1, min(chunk, n) // 2)
            scaler.step(opt)  # unscales first (fp16); a plain opt.step() otherwise
            scaler.update()
            with torch.no_grad():  # stay where the decoder changes; keep the variance
                mu.copy_(clamp_to_codebook(vqgan, mu))
                if fixed_sigma is None:
                    log_sigma.copy_(torch.maximum(log_sigma, log_floor))
            if (step + 1) % log_every == 0 or step + 1 == profile.steps:
                checked = _check_finite(records, checked, profile)
                if progress:
                    bar.set_postfix({k: f"{v:.4f}" for k, v in zip(TERMS, records[-1].tolist())})
    step_seconds = (time.perf_counter() - t0) / max(1, profile.steps)
    with torch.no_grad():
        sigma = sigma_now()
        z = mu[comp] + sigma[comp] * eps
        images = split_on_oom(lambda zz: decode(vqgan, zz, speed), z, batch=chunk)
    hist = torch.stack(records).T.tolist() if records else [[] for _ in TERMS]
    return GenerationResult(images=images.detach(), z=z.detach(),
                            dist=LatentDist(mu.detach().clone(), sigma.detach().clone(),
                                            dist0.round_trip),
                            components=comp.cpu(), history=dict(zip(TERMS, hist)), seed=seed,
                            step_seconds=step_seconds)


def _check_finite(records: list[torch.Tensor], checked: int, profile: Profile) -> int:
    """Raise NumericsError at the first step since ``checked`` whose terms are not finite."""
    block = torch.stack(records[checked:])  # (steps, 4)
    ok = torch.isfinite(block).all(dim=1)
    if not bool(ok.all()):
        bad = checked + int((~ok).nonzero()[0, 0])
        vals = ", ".join(f"{k}={v:.4g}" for k, v in zip(TERMS, records[bad].tolist()))
        raise NumericsError(f"the loss became NaN/Inf at step {bad} ({vals}); lower the "
                            f"learning rate (profile lr={profile.lr}) or the loss weights, or "
                            "check the shots and prompt embeddings for NaN")
    return len(records)
