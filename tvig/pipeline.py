"""All three modules end to end: shots + a product name -> a generated set on disk.

:func:`generate` checks every input first (images, category, output folder, profile, numbers,
device, cached weights) so nothing loads and nothing is written when one is wrong; then it picks
the prompt (:mod:`tvig.prompting.ranking`), learns the real latents' Gaussian (:mod:`tvig.generator.optimisation`),
runs the integrator (:mod:`tvig.integrator.rounds`) and writes ``OUT/images`` + ``OUT/manifest.csv``
(:mod:`tvig.integrator.writer`), optionally with the quality report (:mod:`tvig.integrator.report`).

Example:
    >>> from tvig.pipeline import generate
    >>> res = generate(["shots/"], "metal_nut", "out/", profile="tiny", n=8)   # doctest: +SKIP
    >>> res.manifest                                                           # doctest: +SKIP
    PosixPath('out/manifest.csv')
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from tvig import __version__, atomic
from tvig.atomic import sha256_file
from tvig.augmentations import AugmentRules, rules_for
from tvig.errors import AssetMissingError, ConfigError, InputError
from tvig.generator.distribution import latent_stats
from tvig.images import collect_image_paths, load_images, notes_text
from tvig.integrator.pool import pool_size, select_from_pool
from tvig.integrator.report import quality_report, write_report
from tvig.integrator.rounds import IntegrationResult, IntegratorConfig, integrate
from tvig.integrator.writer import (
    IMAGES_DIR,
    MANIFEST,
    POOL_STATE,
    check_out_folder,
    kept_of,
    manifest_meta,
    plan_set,
    start_run,
    write_set,
)
from tvig.models.clip import embed_images, load_clip
from tvig.models.vqgan import load_vqgan
from tvig.profiles import RANDOM_WEIGHTS_BANNER, Profile, missing_assets, with_budget
from tvig.prompting.keywords import resolve_keyword
from tvig.prompting.ranking import load_prompt, select_prompt
from tvig.seeding import resolve_device
from tvig.speed import SpeedConfig, compile_models

Log = Callable[[str], None]


@dataclass
class Inputs:
    """Everything :func:`generate` checked before loading a model."""

    shots: torch.Tensor  # (k, 3, S, S) in [0, 1], S = profile.image_size
    files: list[Path]
    notes: list[str]  # one line per converted image
    category: str
    out: Path
    profile: Profile
    config: IntegratorConfig
    n: int
    seed: int
    device: torch.device
    rules: AugmentRules
    overrides: dict[str, Any] = field(default_factory=dict)
    run_key: dict[str, Any] = field(default_factory=dict)

    def plan(self) -> dict[str, Any]:
        """The resolved plan (what ``--dry-run`` prints): profile with overrides, the class's
        augmentations, components, images to make, optimisation steps in all."""
        p, c = self.profile, self.config
        kept = c.rounds * c.keep
        need = max(0, self.n - kept)
        pool = pool_size(need=need, oversample=p.oversample, raw=p.raw_draws) if need else 0
        return {"category": self.category, "out": str(self.out), "device": self.device.type,
                "shots": [f.name for f in self.files], "components": len(self.files),
                "profile": p.to_dict(), "overrides": dict(self.overrides),
                "integrator": c.to_dict(), "augmentations": self.rules.to_dict(),
                "images": self.n, "images_from_rounds": min(self.n, kept),
                "images_from_pool": need, "pool_draws": pool,
                "pool_path": ("raw (ablation: unselected)" if p.raw_draws else
                              f"pooled (best {need} of {pool})") if need else "none",
                "optimisation_steps": c.rounds * p.steps,
                "candidate_steps": c.rounds * p.steps * c.candidates,
                "clip_images_per_step": c.candidates * (p.cutouts + 1),
                "seed": self.seed}


@dataclass
class GenerateOutput:
    out: Path
    images_dir: Path
    manifest: Path
    rows: list[dict[str, str]]
    prompt: str
    result: IntegrationResult
    report: dict[str, Path] | None = None
    seconds: float = 0.0


def _positive_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"{name} must be a positive integer, got {v!r}")
    return v


def validate_inputs(images: "str | Path | Sequence[str | Path]", category: str, out: "str | Path",
                    profile: "str | Profile" = "fast", n: int | None = None,
                    rounds: int | None = None, seed: int = 0, device: str = "auto", *,
                    prompt: str | None = None, keyword: str | None = None,
                    overrides: dict[str, Any] | None = None, dataset: str | None = None,
                    augment_file: "str | Path | None" = None,
                    rules: AugmentRules | None = None, require_assets: bool = True,
                    **integrator: Any) -> Inputs:
    """Check every input (no model loads, nothing is written). Raises a :class:`TvigError`.

    ``overrides``: profile fields to change (``--steps``, ``--set field=value``), validated
    like the profile; ``rounds`` is one of them. ``dataset`` / ``augment_file``: which
    augmentation rules apply to the class (:func:`tvig.augmentations.rules_for`).
    """

    overrides = dict(overrides or {})
    if rounds is not None:
        overrides["rounds"] = rounds
    prof, overrides = with_budget(profile, overrides)
    n = _positive_int("n (number of images)", prof.n_images if n is None else n)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    config = IntegratorConfig.from_profile(prof, **integrator)
    if not isinstance(category, str) or not re.search(r"[A-Za-z0-9]", category):
        raise InputError(f"category must name the product (e.g. metal_nut, 'bottle'), got "
                         f"{category!r}")
    if prompt is None:

        resolve_keyword(keyword or category)  # a bad keyword fails before any model loads
    elif not isinstance(prompt, str) or not prompt.strip():
        raise ConfigError(f"prompt must be a sentence such as 'a photo of a metal nut', got "
                          f"{prompt!r}")
    rules = rules or rules_for(category, dataset, path=augment_file)
    dev = resolve_device(device)
    shots, infos = load_images(images, size=prof.image_size)
    missing = missing_assets(prof)
    if missing and require_assets:

        raise AssetMissingError(f"profile {prof.name!r} needs weights that are not cached: "
                                f"{', '.join(missing)}; fetch them with: tvig download "
                                f"{' '.join(missing)} (or use --profile tiny to try the "
                                "pipeline with random weights)")
    files = [i.path for i in infos]
    out = atomic.check_writable(out)
    key = {"category": category, "shots": [sha256_file(f) for f in files], "seed": seed, "n": n,
           "prompt": prompt, "keyword": keyword, "profile": prof.to_dict(),
           "integrator": config.to_dict(), "augmentations": rules.to_dict(),
           "tvig_version": __version__}
    check_out_folder(out, key)
    return Inputs(shots=shots, files=files, notes=notes_text(infos), category=category, out=out,
                  profile=prof, config=config, n=n, seed=seed, device=dev, rules=rules,
                  overrides=overrides, run_key=key)


def plan(images: "str | Path | Sequence[str | Path]", category: str, out: "str | Path",
         profile: "str | Profile" = "fast", n: int | None = None, rounds: int | None = None,
         seed: int = 0, device: str = "auto", **kw: Any) -> dict[str, Any]:
    """The resolved plan of :func:`generate` with the same arguments; loads no model and
    writes nothing (``tvig generate --dry-run``)."""
    inp = validate_inputs(images, category, out, profile, n, rounds, seed, device,
                          require_assets=False, **kw)
    return {**inp.plan(), "missing_assets": missing_assets(inp.profile)}


def generate(images: "str | Path | Sequence[str | Path]", category: str, out: "str | Path",
             profile: "str | Profile" = "fast", n: int | None = None, rounds: int | None = None,
             seed: int = 0, device: str = "auto", *, prompt: str | None = None,
             keyword: str | None = None, report: bool = False, progress: bool = True,
             log: Log = print,
             callback: Callable[[str, dict], None] | None = None,
             speed: "SpeedConfig | None" = None, overrides: dict[str, Any] | None = None,
             dataset: str | None = None, augment_file: "str | Path | None" = None,
             rules: AugmentRules | None = None, **integrator: Any) -> GenerateOutput:
    """Generate ``n`` non-defective images of ``category`` from the shots in ``images`` into ``out``.

    ``prompt``: use this prompt instead of selecting one with WordNet + CLIP (``keyword``:
    the word to expand instead of the category's table entry). ``integrator``:
    extra :class:`IntegratorConfig` fields (e.g. ``merge_weight=0.3``). ``callback(event, info)``
    is called after each round ("round") and each written image ("image"). ``speed``:
    autocast / micro-batches / compile (:class:`tvig.speed.SpeedConfig`; default: bf16
    autocast on CUDA, fp32 on CPU). ``overrides``: profile fields (budgets such as
    ``steps``, ``candidates``), recorded in the manifest. ``dataset`` / ``augment_file``: the
    class's status-consistent augmentations (:mod:`tvig.augmentations`).
    """
    t0 = time.perf_counter()
    inp = validate_inputs(images, category, out, profile, n, rounds, seed, device,
                          prompt=prompt, keyword=keyword, overrides=overrides, dataset=dataset,
                          augment_file=augment_file, rules=rules, **integrator)
    with atomic.claim(inp.out):  # a second run into the same folder exits before loading
        return _generate(inp, prompt=prompt, keyword=keyword, report=report, progress=progress,
                         log=log, callback=callback, speed=speed, t0=t0)


def _generate(inp: Inputs, *, prompt: str | None, keyword: str | None, report: bool,
              progress: bool, log: Log, callback, speed: "SpeedConfig | None",
              t0: float) -> GenerateOutput:
    """:func:`generate` after its inputs are checked and the output folder is claimed."""
    category = inp.category
    prof = inp.profile
    for line in inp.notes:
        log(f"note: {line}")
    if prof.random_weights:
        log(RANDOM_WEIGHTS_BANNER)
    log(f"{len(inp.files)} shot(s) of {category!r} (one component each); profile {prof.name}"
        f"{' with ' + ', '.join(f'{k}={v}' for k, v in inp.overrides.items()) if inp.overrides else ''}"
        f"; device {inp.device}; {inp.config.rounds} round(s) x {inp.config.candidates} "
        f"candidates, keep {inp.config.keep}; {inp.n} images")
    log(f"augmentations: {inp.rules.describe()}")

    log("loading CLIP and VQGAN ...")
    clip = load_clip(prof, inp.device)
    vqgan = load_vqgan(prof, inp.device)
    if speed is not None and speed.compile:

        compile_models(vqgan, clip)
    shots = inp.shots.to(inp.device)
    shot_emb = embed_images(clip, shots)  # (k, D): the same preparation as tvig prompts
    selection = None
    if prompt is None:

        log("selecting the prompt (WordNet + CLIP) ...")
        selection = select_prompt(category, shots, clip, keyword=keyword, profile=prof,
                                  captions=False)
        prompt = selection.prompt
        for line in selection.notes:  # e.g. a keyword WordNet does not know
            log(f"note: {line}")
    log(f"prompt: {prompt!r}")
    text_emb = clip.encode_texts([prompt])[0]  # (D,)
    dist0 = latent_stats(vqgan, shots, prof, seed=inp.seed, rules=inp.rules)
    state = start_run(inp.out, inp.run_key)
    if selection is not None:
        selection.save(inp.out)  # OUT/prompt.json: p* and the full ranking
    result = integrate(vqgan, clip, dist0, shots=shots, shot_emb=shot_emb, text_emb=text_emb,
                       profile=prof, config=inp.config, seed=inp.seed, state_dir=state,
                       progress=progress, callback=callback, speed=speed, rules=inp.rules)
    need = inp.n - len(result.scores)
    pool = None
    if need > 0:
        log(f"{need} more image(s): " + (f"{need} unselected draws (raw_draws ablation)"
                                         if prof.raw_draws else
                                         f"the best {need} of {need * prof.oversample} draws "
                                         "from the learned mixture"))
        pool = select_from_pool(vqgan, clip, result, need=need, profile=prof, seed=inp.seed,
                                text_emb=text_emb, shot_emb=shot_emb, config=inp.config,
                                speed=speed, state_path=state / POOL_STATE, progress=progress)
    meta = manifest_meta(category=category, prompt=prompt, profile=prof, config=inp.config,
                         run_seed=inp.seed, device=inp.device.type, overrides=inp.overrides,
                         augmentations=inp.rules.to_dict(),
                         shots=[(f.name, h) for f, h in zip(inp.files, inp.run_key["shots"])])
    items = plan_set(n=inp.n, kept=kept_of(result, inp.config.candidates), pool=pool,
                     rounds=inp.config.rounds)
    rows = write_set(inp.out, items, meta=meta, progress=progress, callback=callback)
    res = GenerateOutput(out=inp.out, images_dir=inp.out / IMAGES_DIR, manifest=inp.out / MANIFEST,
                         rows=rows, prompt=prompt, result=result)
    if report:
        res.report = report_for_set(inp.out, inp.shots, clip, prof, rows=rows)
    res.seconds = time.perf_counter() - t0
    log(f"wrote {len(rows)} images to {res.images_dir}")
    log(f"manifest: {res.manifest}")
    if res.report:
        log(f"quality report: {res.report['json']}  contact sheet: {res.report['sheet']}")
    return res


def reproduce(row: dict[str, str], images: "str | Path | Sequence[str | Path]",
              out: "str | Path", *, device: str = "cpu", progress: bool = False,
              log: Log = print) -> Path:
    """Remake the image of one manifest row into the new folder ``out``; returns its path.

    ``images``: the shots the set was made from (checked against the row's sha256s, in order).
    Same tvig version and device: the PNG is bit-identical to the original.

    Example:
        >>> row = atomic.read_csv("out/manifest.csv")[3]                       # doctest: +SKIP
        >>> reproduce(row, ["shots/"], "again/").read_bytes() == ...           # doctest: +SKIP
    """

    shots = json.loads(row["shots"])  # [[file name, sha256], ...]
    files = collect_image_paths(images)
    if [sha256_file(f) for f in files] != [h for _, h in shots]:
        raise InputError(f"the {len(files)} shot(s) given are not the ones {row['file']} was "
                         f"made from ({', '.join(n for n, _ in shots)}, in this order, compared "
                         "by sha256); pass those files")
    if row["tvig_version"] != __version__:
        log(f"note: {row['file']} was made by tvig {row['tvig_version']}, this is {__version__}: "
            "the image may differ")
    integrator = json.loads(row["integrator_params"])
    for name in ("rounds", "candidates", "keep", "a", "b", "c", "sigma_floor"):
        integrator.pop(name)  # they come from the profile
    profile = Profile(**json.loads(row["profile_params"]))
    aug = json.loads(row.get("augmentations") or "{}")
    n = int(row["index"]) + 1
    if row["source"] != "kept":  # the pool's size depends on how many images it had to fill
        need = int(row["pool_size"]) // (1 if profile.raw_draws else profile.oversample)
        n = profile.rounds * profile.keep + need
    res = generate(files, row["category"], out, profile=profile, n=n,
                   seed=int(row["run_seed"]), device=device, prompt=row["prompt"],
                   progress=progress, log=log, rules=AugmentRules(**aug) if aug else None,
                   **integrator)
    return res.images_dir / row["file"]


def report_for_set(out: "str | Path", shots: torch.Tensor, clip, profile: Profile, *,
                   rows: Sequence[dict[str, str]] | None = None) -> dict[str, Path]:
    """Compute and write the quality report of the set in ``out`` (see :mod:`tvig.integrator.report`)."""

    out = Path(out)
    rows = list(rows) if rows is not None else atomic.read_csv(out / MANIFEST)
    if not rows:
        raise InputError(f"no generated images listed in {out / MANIFEST}; run tvig generate first")
    files = [out / IMAGES_DIR / r["file"] for r in rows]
    gen, _ = load_images(files, size=profile.image_size)
    rep = quality_report(gen, shots, clip, files=[f.name for f in files])
    banner = RANDOM_WEIGHTS_BANNER if profile.random_weights else None
    return write_report(out, rep, shots, gen, banner=banner,
                        meta={"profile": profile.name, "random_weights": profile.random_weights})


def run_prompt(run_root: "str | Path") -> tuple[str | None, str]:
    """(p*, note) from a run folder's ``prompt.json``, or (None, note) when it is missing, so
    that :func:`generate` selects the prompt itself (:func:`load_prompt`, ``missing="select"``)."""
    return load_prompt(run_root, missing="select")
