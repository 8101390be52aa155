"""Text-guided knowledge integrator (DESIGN.md, module 3): R rounds of generate -> score -> keep -> merge.

Round r = 1..R (the distribution is a mixture with one component per shot):
  1. sample and optimise N candidates from the current mixture with
     :func:`tvig.generator.optimisation.optimise`; candidate i of round r belongs to component
     ``((r - 1) * N + i) mod k`` (its KL pulls towards that shot's real component);
  2. score each one (:mod:`tvig.integrator.scoring`): a*text cosine + b*image cosine - c*D, D
     against the candidate's own component, in units of that shot's round trip;
  3. keep the top m by that score;
  4. re-encode the kept images and merge their latents into their components
     (:func:`tvig.integrator.scoring.merge_latents`, weight ``merge_weight``);
  5. record the round's diversity (CLIP and pixel, relative to the shots' augmentations).

The (mu, sigma) that ``optimise`` ends a round with is *not* carried over as such: a round's
distribution reaches the next one only through the candidates it got kept, which is what makes
the selection matter. Round 1 starts from the real (mu_0, sigma_0).

Every round's candidates, all their score terms and the kept flags are returned as
:class:`RoundRecord` (the notebook's gallery). With ``state_dir`` each finished round is saved
there atomically and a rerun loads it instead of recomputing, so an interrupted run resumes.
Round r uses the seed ``derive_seed(seed, "round", r)``: same seed, same rounds.

Example:
    >>> import torch
    >>> from tvig.generator import latent_stats
    >>> from tvig.models import load_clip, load_vqgan
    >>> from tvig.profiles import get_profile
    >>> p = get_profile("tiny", rounds=2, steps=2, candidates=4, keep=2)
    >>> vq, clip = load_vqgan(p), load_clip(p)
    >>> shots = torch.rand(1, 3, 64, 64)
    >>> dist0 = latent_stats(vq, shots, p, seed=0)
    >>> res = integrate(vq, clip, dist0, text_emb=clip.encode_texts(["a photo of a nut"]),
    ...                 shot_emb=clip.encode_images(shots), profile=p,
    ...                 config=IntegratorConfig.from_profile(p), seed=0, progress=False)
    >>> res.images.shape, res.scores.total.shape          # (R*m, 3, H, W), (R*m,)
    (torch.Size([4, 3, 64, 64]), torch.Size([4]))
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from tvig import atomic
from tvig.augmentations import AugmentRules
from tvig.errors import ConfigError
from tvig.generator.distribution import LatentDist, shot_augmentations
from tvig.generator.metrics import round_diversity
from tvig.generator.optimisation import optimise
from tvig.images import to_uint8
from tvig.integrator.scoring import Scores, merge_latents, score_terms, top_m
from tvig.models.clip import embed_images
from tvig.profiles import Profile
from tvig.safe_load import load_checkpoint
from tvig.speed import SpeedConfig, split_on_oom

Callback = Callable[[str, dict], None]  # (event, info); events: "round"


def derive_seed(seed: int, *parts: Any) -> int:
    """A 31-bit seed from (seed, parts...), e.g. ``derive_seed(0, "round", 2)``; stable across runs."""
    text = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class IntegratorConfig:
    """The integrator's parameters (rounds R, candidates N, keep m, score weights a, b, c, merge)."""

    rounds: int = 2
    candidates: int = 4
    keep: int = 2
    a: float = 1.0  # weight of the text cosine
    b: float = 1.0  # weight of the image cosine
    c: float = 0.1  # weight of the latent distance (subtracted)
    merge_weight: float = 0.5  # w: share of the kept latents in the next (mu, sigma)
    sigma_floor: float = 0.05

    def __post_init__(self) -> None:
        for name in ("rounds", "candidates", "keep"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if self.keep > self.candidates:
            raise ConfigError(f"keep ({self.keep}) cannot exceed candidates ({self.candidates})")
        for name in ("a", "b", "c"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v >= 0:
                raise ConfigError(f"score weight {name} must be a number >= 0, got {v!r}")
        if not 0.0 <= self.merge_weight <= 1.0:
            raise ConfigError(f"merge_weight must be in [0, 1], got {self.merge_weight!r}")
        if not self.sigma_floor > 0:
            raise ConfigError(f"sigma_floor must be > 0, got {self.sigma_floor!r}")

    @classmethod
    def from_profile(cls, profile: Profile, **overrides: Any) -> "IntegratorConfig":
        """Take R, N, m, a, b, c and the sigma floor from ``profile``; ``None`` overrides ignored."""
        base = dict(rounds=profile.rounds, candidates=profile.candidates, keep=profile.keep,
                    a=profile.score_text, b=profile.score_img, c=profile.score_latent,
                    sigma_floor=profile.sigma_floor)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown integrator parameter(s) {', '.join(sorted(unknown))}")
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class RoundRecord:
    """One round: its N candidates, every score term, which were kept, and (mu, sigma) after it."""

    round: int  # 1..R
    seed: int  # seed given to generation.optimise for this round
    candidates: torch.Tensor  # (N, 3, H, W) uint8 (what gets saved as PNG)
    scores: Scores  # each term (N,)
    kept: torch.Tensor  # (N,) bool
    order: torch.Tensor  # (m,) indices of the kept candidates, best first
    z: torch.Tensor  # (N, C, h, w) re-encoded pre-quantisation latents
    mu: torch.Tensor  # (C, h, w) after the merge
    sigma: torch.Tensor  # (C, h, w) after the merge
    history: dict[str, list[float]] = field(default_factory=dict)  # optimise's loss terms
    step_seconds: float = 0.0  # optimise's wall time per step (0 for records saved before)
    components: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))
    diversity: dict[str, float] = field(default_factory=dict)  # round_diversity of candidates

    def images(self) -> torch.Tensor:
        """Candidates as float (N, 3, H, W) in [0, 1]."""
        return self.candidates.float() / 255.0

    def save(self, path: "str | Path") -> None:
        """Write tensors, numbers and lists only, so :meth:`load` needs no unsafe unpickling."""
        buf = io.BytesIO()
        d = dataclasses.asdict(self)  # Scores becomes a dict of tensors too
        d["history"] = {k: [float(v) for v in vs] for k, vs in self.history.items()}
        d["round"], d["seed"], d["step_seconds"] = int(self.round), int(self.seed), \
            float(self.step_seconds)
        torch.save(d, buf)
        atomic.write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: "str | Path") -> "RoundRecord":
        """Read a saved round with ``weights_only=True`` (a crafted file cannot run code)."""
        d = load_checkpoint(path)
        d["scores"] = Scores(**d["scores"])
        return cls(**d)


@dataclass
class IntegrationResult:
    """Everything the rounds kept, best first over all rounds, plus the per-round records."""

    images: torch.Tensor  # (K, 3, H, W) float in [0, 1], K = R*m, sorted by total score
    scores: Scores  # each term (K,)
    origin: list[tuple[int, int, int]]  # per image: (round, round seed, candidate index)
    records: list[RoundRecord]
    dist0: LatentDist  # the real per-shot mixture (k components)
    dist: LatentDist  # learned after the last round (k components)
    components: list[int] = field(default_factory=list)  # per image: its component (shot)
    ranks: list[int] = field(default_factory=list)  # per image: rank in its round (1 = best)
    reference: dict[str, float] = field(default_factory=dict)  # diversity of the augmentations

    @property
    def mu0(self) -> torch.Tensor:  # (k, C, h, w)
        return self.dist0.mu

    @property
    def sigma0(self) -> torch.Tensor:
        return self.dist0.sigma


@torch.inference_mode()
def score_images(vqgan, clip, x: torch.Tensor, *, text_emb: torch.Tensor, shot_emb: torch.Tensor,
                 dist0: LatentDist, comp: torch.Tensor, config: IntegratorConfig,
                 speed: SpeedConfig | None = None) -> tuple[Scores, torch.Tensor]:
    """Score images x (N, 3, H, W) in [0, 1] of components ``comp`` (N,) against the real
    mixture ``dist0``; returns (scores on CPU, re-encoded z (N, C, h, w) on CPU).

    CLIP and the VQGAN encoder see the images in batches that halve on out-of-memory.
    """
    emb = embed_images(clip, x, speed=speed)  # (N, D)
    d0 = dist0.to("cpu")
    z = split_on_oom(vqgan.encode, x.to(vqgan.device)).float().cpu()  # (N, C, h, w), fp32
    mu0, sigma0 = d0.select(comp)
    rt = None if d0.round_trip is None else d0.round_trip[comp.cpu()]
    s = score_terms(emb, text_emb.cpu(), shot_emb.cpu(), z, mu0, sigma0, a=config.a, b=config.b,
                    c=config.c, round_trip=rt)
    return s, z


def diversity_reference(clip, shots: torch.Tensor, rules: AugmentRules, profile: Profile, *,
                        seed: int) -> dict[str, float]:
    """CLIP and pixel diversity of the shots' status-consistent augmentations (the same ones
    that give sigma_0): the unit of each round's recorded diversity."""
    s = profile.image_size
    x = shots.float().cpu()
    if x.shape[-2:] != (s, s):
        x = torch.nn.functional.interpolate(x, size=(s, s), mode="bilinear", antialias=True,
                                            align_corners=False)
    aug = shot_augmentations(x, profile.n_augment, rules, seed=seed).flatten(0, 1)
    return round_diversity(clip, aug)


def run_round(vqgan, clip, dist0, current, *, r: int, seed: int, text_emb, shot_emb,
              profile: Profile, config: IntegratorConfig, progress: bool = True,
              speed: SpeedConfig | None = None,
              reference: dict[str, float] | None = None) -> RoundRecord:
    """One round: optimise N candidates from ``current``, score, keep top m, merge."""

    rseed = derive_seed(seed, "round", r)
    init = current if r > 1 else None
    res = optimise(vqgan, clip, dist0, text_emb=text_emb, shot_emb=shot_emb, profile=profile,
                   n=config.candidates, seed=rseed, init=init, progress=progress, speed=speed,
                   offset=(r - 1) * config.candidates)
    imgs8 = to_uint8(res.images)  # (N, 3, H, W): score exactly what will be saved
    x = imgs8.float() / 255.0
    scores, z = score_images(vqgan, clip, x, text_emb=text_emb, shot_emb=shot_emb, dist0=dist0,
                             comp=res.components, config=config, speed=speed)
    order = top_m(scores.total, config.keep)
    kept = torch.zeros(len(scores), dtype=torch.bool)
    kept[order] = True
    d0 = dist0.to("cpu")
    mu, sigma = merge_latents(d0.mu, d0.sigma, z[order], weight=config.merge_weight,
                              sigma_floor=config.sigma_floor, kept_comp=res.components[order])
    return RoundRecord(round=r, seed=rseed, candidates=imgs8, scores=scores, kept=kept,
                       order=order, z=z, mu=mu, sigma=sigma,
                       history={k: list(map(float, v)) for k, v in (res.history or {}).items()},
                       step_seconds=res.step_seconds, components=res.components.cpu(),
                       diversity=round_diversity(clip, x, reference))


def integrate(vqgan, clip, dist0, *, shots: torch.Tensor | None = None,
              text_emb: torch.Tensor, shot_emb: torch.Tensor | None = None, profile: Profile,
              config: IntegratorConfig | None = None, seed: int = 0,
              state_dir: "str | Path | None" = None, progress: bool = True,
              callback: Callback | None = None, speed: SpeedConfig | None = None,
              rules: AugmentRules | None = None) -> IntegrationResult:
    """Run R rounds (see the module docstring). ``dist0`` is the real per-shot mixture.

    Give ``shot_emb`` (k, D) or ``shots`` (k, 3, H, W) (then they are CLIP-encoded here).
    With ``shots`` and ``rules`` (the class's augmentations, as for ``dist0``) each round's
    diversity is also given relative to that of the shots' augmentations.
    ``state_dir``: save/load finished rounds there (``round_01.pt``...) to resume.
    ``speed``: autocast / micro-batches (:mod:`tvig.speed`), how it runs, not what it computes.
    """

    config = config or IntegratorConfig.from_profile(profile)
    if shot_emb is None:
        if shots is None:
            raise ConfigError("integrate needs shots or shot_emb")
        shot_emb = embed_images(clip, shots)
    reference = ({} if shots is None or rules is None else
                 diversity_reference(clip, shots, rules, profile, seed=seed))
    text_emb = text_emb.reshape(-1)
    device = dist0.mu.device
    current = dist0
    records: list[RoundRecord] = []
    bar = tqdm(range(1, config.rounds + 1), desc="integrator rounds", unit="round",
               disable=not progress)
    for r in bar:
        path = Path(state_dir) / f"round_{r:02d}.pt" if state_dir is not None else None
        if path is not None and path.exists():
            rec = RoundRecord.load(path)
        else:
            rec = run_round(vqgan, clip, dist0, current, r=r, seed=seed, text_emb=text_emb,
                            shot_emb=shot_emb, profile=profile, config=config, progress=progress,
                            speed=speed, reference=reference)
            if path is not None:
                rec.save(path)
        records.append(rec)
        current = LatentDist(rec.mu.to(device), rec.sigma.to(device))
        bar.set_postfix(best=f"{float(rec.scores.total.max()):.3f}")
        if callback is not None:
            callback("round", {"round": r, "record": rec})
    return collect(records, dist0.detach().to("cpu"), reference)


def collect(records: list[RoundRecord], dist0: LatentDist,
            reference: dict[str, float] | None = None) -> IntegrationResult:
    """Pool the kept candidates of all rounds, sorted by total score (ties: earlier round first)."""
    imgs, scores, origin, comps, ranks = [], [], [], [], []
    for rec in records:
        imgs.append(rec.candidates[rec.order])
        scores.append(rec.scores.index(rec.order))
        origin += [(rec.round, rec.seed, int(i)) for i in rec.order]
        comps += [int(rec.components[i]) if len(rec.components) else 0 for i in rec.order]
        ranks += list(range(1, len(rec.order) + 1))
    pooled = Scores.cat(scores)
    order = top_m(pooled.total, len(pooled)).tolist()
    last = records[-1]
    return IntegrationResult(images=torch.cat(imgs)[order].float() / 255.0,
                             scores=pooled.index(order), origin=[origin[i] for i in order],
                             records=records, dist0=dist0,
                             dist=LatentDist(last.mu, last.sigma, dist0.round_trip),
                             components=[comps[i] for i in order],
                             ranks=[ranks[i] for i in order], reference=dict(reference or {}))
