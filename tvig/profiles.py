"""Profiles: one code path, three weight/budget settings (``paper``, ``fast``, ``tiny``).

A :class:`Profile` is a frozen dataclass holding every knob of the method: which CLIP and
VQGAN to use (and whether their weights are real or random), image size, optimisation
budget, candidates/rounds of the integrator and the loss/score weights.

Example:
    >>> from tvig.profiles import get_profile
    >>> p = get_profile("tiny", steps=3)
    >>> p.image_size, p.steps, p.random_weights
    (64, 3, True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from tvig import assets
from tvig.errors import AssetError, ConfigError, choices_text


@dataclass(frozen=True)
class VQGANArch:
    """A taming-transformers VQGAN architecture (its ``ddconfig`` plus codebook size).

    ``ch_mult`` has one entry per resolution level; the latent is
    ``resolution / 2**(len(ch_mult)-1)`` pixels on a side with ``embed_dim`` channels.
    """

    name: str
    embed_dim: int
    n_embed: int
    z_channels: int
    resolution: int
    ch: int
    ch_mult: tuple[int, ...]
    num_res_blocks: int
    attn_resolutions: tuple[int, ...]
    in_channels: int = 3
    out_ch: int = 3
    dropout: float = 0.0
    asset: str | None = None  # registry name of the yaml+ckpt, None = random init only

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    def ddconfig(self) -> dict[str, Any]:
        """The ``ddconfig`` dict that ``taming.modules`` Encoder/Decoder take."""
        return dict(double_z=False, z_channels=self.z_channels, resolution=self.resolution,
                    in_channels=self.in_channels, out_ch=self.out_ch, ch=self.ch,
                    ch_mult=list(self.ch_mult), num_res_blocks=self.num_res_blocks,
                    attn_resolutions=list(self.attn_resolutions), dropout=self.dropout)


VQGAN_ARCHS: dict[str, VQGANArch] = {
    a.name: a
    for a in (
        VQGANArch("vqgan_imagenet_f16_16384", embed_dim=256, n_embed=16384, z_channels=256,
                  resolution=256, ch=128, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2,
                  attn_resolutions=(16,), asset="vqgan_imagenet_f16_16384"),
        VQGANArch("vqgan_imagenet_f16_1024", embed_dim=256, n_embed=1024, z_channels=256,
                  resolution=256, ch=128, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2,
                  attn_resolutions=(16,), asset="vqgan_imagenet_f16_1024"),
        # 64 px -> 16x16x16 latent, random weights: exists so everything runs on a CPU.
        # ch must be a multiple of 32: taming's GroupNorm uses 32 groups.
        VQGANArch("tiny", embed_dim=16, n_embed=64, z_channels=16, resolution=64, ch=32,
                  ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=()),
    )
}


@dataclass(frozen=True)
class Profile:
    """Every parameter of one tvig run. Build with :func:`get_profile`, change with ``replace``."""

    name: str
    # --- models -------------------------------------------------------------------------
    clip_model: str  # open_clip model name (or tvig's registered tiny config)
    clip_asset: str | None  # asset registry name of the weights; None = random init
    vqgan: str  # key of VQGAN_ARCHS
    random_weights: bool  # True: images and scores mean nothing (tiny)
    image_size: int  # generation resolution (px)
    # --- variance-aware generator ---------------------------------------------------------
    steps: int  # optimisation steps per round
    lr: float  # Adam learning rate on (mu, log sigma)
    cutouts: int  # CLIP cutouts per candidate per step
    cut_pow: float  # cutout size distribution exponent (VQGAN-CLIP's cut_pow)
    augment_strength: float  # kornia augmentation strength on cutouts, 0 = none
    lambda_text: float
    lambda_img: float
    lambda_kl: float
    n_augment: int  # status-consistent augmentations per shot for mu_0 / sigma_0
    sigma_floor: float  # lower bound on sigma_0 (latent units)
    rho: float  # sigma >= rho * sigma_0 after every step (0 = no floor; the variance is kept)
    # --- integrator -----------------------------------------------------------------------
    candidates: int  # N candidates per round (one batch)
    keep: int  # top m kept per round
    rounds: int  # R
    n_images: int  # default size of the generated set
    score_text: float  # a
    score_img: float  # b
    score_latent: float  # c (D is in units of the shot's own round trip)
    oversample: int  # images beyond the rounds' kept ones: best 1 of `oversample` pooled draws
    raw_draws: bool  # ABLATION: write draws beyond the kept ones unselected (paper: False)
    # --- detection ------------------------------------------------------------------------
    detect_image_size: int
    seed: int = 0
    notes: str = ""

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> "Profile":
        """A copy with some fields changed (validated). Unknown names are rejected."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConfigError(
                f"unknown profile field(s) {', '.join(unknown)}; valid fields: "
                f"{', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    @property
    def arch(self) -> VQGANArch:
        return VQGAN_ARCHS[self.vqgan]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_POSITIVE_INT = ("image_size", "steps", "cutouts", "n_augment", "candidates", "keep", "rounds",
                 "n_images", "detect_image_size")
_NON_NEGATIVE = ("lambda_text", "lambda_img", "lambda_kl", "score_text", "score_img",
                 "score_latent", "augment_strength")


def validate(p: Profile) -> None:
    """Reject bad values with a message naming the field, its value and the valid range."""
    for name in _POSITIVE_INT:
        v = getattr(p, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"profile field {name} must be a positive integer, got {v!r}")
    for name in _NON_NEGATIVE:
        v = getattr(p, name)
        if not isinstance(v, (int, float)) or v < 0 or v != v:
            raise ConfigError(f"profile field {name} must be a number >= 0, got {v!r}")
    if not (isinstance(p.lr, (int, float)) and 0 < p.lr < float("inf")):
        raise ConfigError(f"profile field lr must be a finite number > 0, got {p.lr!r}")
    if not (isinstance(p.sigma_floor, (int, float)) and p.sigma_floor > 0):
        raise ConfigError(f"profile field sigma_floor must be > 0, got {p.sigma_floor!r}")
    if isinstance(p.rho, bool) or not (isinstance(p.rho, (int, float)) and 0 <= p.rho <= 1):
        raise ConfigError(f"profile field rho must be a number in [0, 1] (sigma >= rho * "
                          f"sigma_0), got {p.rho!r}")
    if isinstance(p.oversample, bool) or not isinstance(p.oversample, int) or p.oversample < 2:
        raise ConfigError(f"profile field oversample must be an integer >= 2 (pool size per "
                          f"image written), got {p.oversample!r}; for unselected draws set "
                          "raw_draws=True (an ablation)")
    if not isinstance(p.raw_draws, bool):
        raise ConfigError(f"profile field raw_draws must be True or False, got {p.raw_draws!r}")
    if not (isinstance(p.cut_pow, (int, float)) and p.cut_pow > 0):
        raise ConfigError(f"profile field cut_pow must be > 0, got {p.cut_pow!r}")
    if p.vqgan not in VQGAN_ARCHS:
        raise ConfigError(choices_text("vqgan", p.vqgan, list(VQGAN_ARCHS)))
    if p.keep > p.candidates:
        raise ConfigError(f"keep ({p.keep}) cannot exceed candidates ({p.candidates}): "
                          "the integrator keeps the top m of N candidates")
    ds = p.arch.downsample
    if p.image_size % ds:
        raise ConfigError(f"image_size {p.image_size} must be a multiple of the VQGAN's "
                          f"downsampling factor {ds}")
    if p.lambda_text + p.lambda_img + p.lambda_kl == 0:
        raise ConfigError("all loss weights are 0: nothing to optimise (set lambda_text, "
                          "lambda_img or lambda_kl > 0)")


_COMMON = dict(cut_pow=1.0, augment_strength=1.0, n_augment=8, sigma_floor=0.05, rho=0.5,
               oversample=4, raw_draws=False,
               lambda_text=1.0, lambda_img=1.0, lambda_kl=0.1,
               score_text=1.0, score_img=1.0, score_latent=0.1)

PROFILES: dict[str, Profile] = {
    "paper": Profile(name="paper", clip_model="ViT-B-32-quickgelu", clip_asset="clip_vit_b_32_openai",
                     vqgan="vqgan_imagenet_f16_16384", random_weights=False, image_size=256,
                     steps=150, lr=0.05, cutouts=32, candidates=16, keep=8, rounds=3, n_images=32,
                     detect_image_size=256,
                     notes="VQGAN-CLIP-like budget; needs a GPU", **_COMMON),
    "fast": Profile(name="fast", clip_model="ViT-B-32-quickgelu", clip_asset="clip_vit_b_32_openai",
                    vqgan="vqgan_imagenet_f16_16384", random_weights=False, image_size=256,
                    steps=40, lr=0.08, cutouts=16, candidates=8, keep=4, rounds=2, n_images=16,
                    detect_image_size=256, notes="smaller budget for a Colab T4", **_COMMON),
    "tiny": Profile(name="tiny", clip_model="tvig-tiny-clip", clip_asset=None, vqgan="tiny",
                    random_weights=True, image_size=64, steps=4, lr=0.05, cutouts=4, candidates=4,
                    keep=2, rounds=2, n_images=6, detect_image_size=64,
                    notes="RANDOM WEIGHTS: images and scores are meaningless; for tests and "
                          "offline demos only", **_COMMON),
}

RANDOM_WEIGHTS_BANNER = ("*** tvig profile 'tiny' uses RANDOM WEIGHTS: the images, prompts and "
                         "scores it produces mean nothing. Use --profile paper or fast with real "
                         "weights (tvig download) for meaningful results. ***")


def get_profile(name: "str | Profile", **overrides: Any) -> Profile:
    """Look up a profile by name and apply overrides (``None`` values are ignored)."""
    if isinstance(name, Profile):
        base = name
    else:
        if name not in PROFILES:
            raise ConfigError(choices_text("profile", name, list(PROFILES)))
        base = PROFILES[name]
    changes = {k: v for k, v in overrides.items() if v is not None}
    return base.replace(**changes) if changes else base


def with_budget(name: "str | Profile", overrides: dict[str, Any]) -> tuple["Profile", dict[str, Any]]:
    """(profile with ``overrides``, the overrides actually applied).

    Lowering ``candidates`` below the profile's ``keep`` without giving ``keep`` scales keep
    with it (the profile's keep/candidates ratio, at least 1), so ``--candidates 2`` on
    ``paper`` (16 / keep 8) keeps 1 of 2 instead of failing; the derived value is returned.

    >>> with_budget("paper", {"candidates": 2})[1]
    {'candidates': 2, 'keep': 1}
    """
    base = get_profile(name)
    applied = {k: v for k, v in overrides.items() if v is not None}
    cand = applied.get("candidates")
    if (isinstance(cand, int) and not isinstance(cand, bool) and cand >= 1
            and "keep" not in applied and base.keep > cand):
        applied["keep"] = max(1, min(cand, round(base.keep * cand / base.candidates)))
    return get_profile(base, **applied), applied


def parse_override(text: str) -> tuple[str, Any]:
    """``"field=value"`` -> (field, value typed like the profile field), for ``--set``.

    >>> parse_override("steps=3"), parse_override("raw_draws=true"), parse_override("rho=0.25")
    (('steps', 3), ('raw_draws', True), ('rho', 0.25))
    """
    name, sep, raw = str(text).partition("=")
    name, raw = name.strip(), raw.strip()
    types = {f.name: f.type for f in dataclasses.fields(Profile)}
    if not sep or name not in types:
        raise ConfigError(f"--set {text!r}: expected FIELD=VALUE with FIELD a profile field "
                          f"({', '.join(types)})")
    kind = str(types[name])
    try:
        if kind == "bool":
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return name, raw.lower() in ("true", "1", "yes")
        if kind == "int":
            return name, int(raw)
        if kind == "float":
            return name, float(raw)
    except ValueError:
        raise ConfigError(f"--set {text!r}: profile field {name} takes a {kind}, got "
                          f"{raw!r}") from None
    return name, (None if raw.lower() == "none" and "None" in kind else raw)


def missing_assets(profile: Profile) -> list[str]:
    """Names of the assets this profile needs that are not (verified) in the cache."""

    needed = [profile.clip_asset, profile.arch.asset]
    return [n for n in needed if n is not None and not assets.is_present(n)]


def _value(v: "float | None") -> str:
    return "n/a" if v is None else f"{v:.3g}"


def recorded_verdict(profile: Profile) -> "tuple[bool | None, str]":
    """(passed, reason) from ``tvig check``'s records beside the profile's assets, valid only
    for the files cached now (sha256); (None, why) when a file has no matching record."""
    for name in (profile.clip_asset, profile.arch.asset):
        if name is None:
            continue
        rec = assets.read_check(name)
        if rec is None:
            return None, (f"{name} is present, not checked (run: tvig check --profile "
                          f"{profile.name})")
        if not rec.get("passed"):
            bad = [f"{g['model']} {g['gate']} {_value(g['value'])} < {g['threshold']:g}"
                   for g in rec.get("gates", []) if not (g["passed"] or g.get("skipped"))]
            return False, f"{name} failed tvig check: " + "; ".join(bad)
    return True, "every gate passed"


def profile_or_tiny(name: str, *, log=print,
                    check: "Callable[[Profile], tuple[bool | None, str]] | None" = None
                    ) -> Profile:
    """The named profile if its weights are cached *and* pass ``tvig check``; else ``tiny``,
    saying so loudly with the reason.

    ``check`` gives the verdict (e.g. :func:`tvig.gates.run.ensure_checked`, which runs the
    check once and records it); by default only a recorded check counts. Used by the demo so
    that a fresh offline machine still runs end to end.
    """
    p = get_profile(name)
    missing = missing_assets(p)
    if missing:
        reasons = [f"profile {name!r} needs weights that are not in the cache: "
                   f"{', '.join(missing)}", f"fetch them with:  tvig download {' '.join(missing)}"]
    elif p.random_weights:
        return p
    else:
        try:
            ok, why = (check or recorded_verdict)(p)
        except AssetError as e:  # a cached file cannot even be read
            ok, why = False, str(e)
        if ok:
            return p
        reasons = [f"profile {name!r} is not used: {why}"]
    log("!" * 78)
    for line in reasons:
        log(f"!! {line}")
    log("!! falling back to profile 'tiny' (RANDOM WEIGHTS: results are meaningless)")
    log("!" * 78)
    return PROFILES["tiny"]
