"""``tvig generate``: shots + product name -> OUT/images/*.png + OUT/manifest.csv (+ report)."""

from __future__ import annotations

import argparse
import json

from tvig.pipeline import generate, plan
from tvig.profiles import PROFILES, parse_override
from tvig.seeding import DEVICES
from tvig.speed import PRECISIONS, SpeedConfig

BUDGETS = ("steps", "candidates", "cutouts", "keep", "rounds")


def overrides_of(args: argparse.Namespace) -> dict:
    """Profile overrides from ``--set field=value`` (in order) and the budget flags."""
    out = dict(parse_override(t) for t in args.set or [])
    out.update({b: getattr(args, b) for b in BUDGETS if getattr(args, b) is not None})
    return out


def format_plan(p: dict) -> str:
    """The dry-run plan as a few readable lines."""
    prof, aug = p["profile"], p["augmentations"]
    lines = [f"plan for {p['category']!r} -> {p['out']} (nothing written)",
             f"  profile {prof['name']} with overrides {p['overrides'] or 'none'}",
             f"  {p['components']} shot(s) = {p['components']} mixture component(s): "
             f"{', '.join(p['shots'])}",
             f"  augmentations ({aug['source']}): hflip {aug['hflip']}, vflip {aug['vflip']}, "
             f"rot90 {aug['rot90']}, degrees {aug['degrees']}, shift {aug['shift']}, jitter "
             f"{aug['jitter']} -- {aug['why']}",
             f"  {p['integrator']['rounds']} round(s) x {p['integrator']['candidates']} "
             f"candidates x {prof['steps']} steps x {prof['cutouts']} cutouts, keep "
             f"{p['integrator']['keep']} per round",
             f"  images: {p['images']} = {p['images_from_rounds']} kept by rounds + "
             f"{p['images_from_pool']} from the pool ({p['pool_path']})",
             f"  optimisation steps in all: {p['optimisation_steps']} "
             f"({p['candidate_steps']} candidate-steps; {p['clip_images_per_step']} CLIP images "
             "per step)"]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    overrides = overrides_of(args)
    common = dict(profile=args.profile, n=args.n, seed=args.seed, device=args.device,
                  prompt=args.prompt, keyword=args.keyword, overrides=overrides,
                  dataset=args.dataset, augment_file=args.augment_file)
    if args.dry_run:
        p = plan(args.images, args.category, args.out, **common)
        print(json.dumps(p, indent=2) if args.json else format_plan(p))
        return 0
    speed = SpeedConfig(precision="fp32" if args.no_autocast else args.precision,
                        micro_batch=args.micro_batch, compile=args.compile,
                        checkpoint={"auto": None, "on": True, "off": False}[args.checkpoint])
    res = generate(args.images, args.category, args.out, report=args.report,
                   progress=not args.quiet, speed=speed, **common)
    print(f"done in {res.seconds:.1f} s")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="generate non-defective images of a product from a few shots",
        description="Select a prompt (WordNet + CLIP), learn the shots' latent distribution, run "
        "the text-guided integrator for R rounds and write OUT/images/*.png and OUT/manifest.csv. "
        "Every input is checked before any model loads. Rerunning into the same OUT resumes.")
    p.add_argument("--images", nargs="+", required=True, metavar="PATH",
                   help="image files and/or folders (e.g. an MVTec class's train/good)")
    p.add_argument("--category", required=True, metavar="NAME",
                   help="product name, e.g. metal_nut or 'bottle'")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--n", type=int, default=None,
                   help="images in the set (default: the profile's n_images, 32 for paper)")
    for name, what in (("steps", "optimisation steps per round"),
                       ("candidates", "candidates N per round"),
                       ("cutouts", "CLIP cutouts per candidate per step"),
                       ("keep", "candidates m kept per round"), ("rounds", "integrator rounds R")):
        p.add_argument(f"--{name}", type=int, default=None,
                       help=f"{what} (default: the profile's)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="change any profile field, e.g. --set rho=0.3 --set oversample=8 "
                   "(validated like the profile; recorded in the manifest)")
    p.add_argument("--dataset", default=None,
                   help="dataset of the class (mvtec_ad, btad, mvtec_loco) for its "
                   "augmentation rules (default: any table that has the class)")
    p.add_argument("--augment-file", default=None, metavar="YAML",
                   help="your own augmentation rules, laid over tvig's (see tvig augmentations)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved plan (profile, augmentations, components, images, "
                   "steps) and write nothing")
    p.add_argument("--json", action="store_true", help="with --dry-run: the plan as JSON")
    # no argparse choices: tvig's own error lists the valid names in one line
    p.add_argument("--profile", default="fast",
                   help=f"{' | '.join(PROFILES)} (tiny: random weights, for tests) "
                   "(default: fast)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help=f"{' | '.join(DEVICES)} (default: auto)")
    p.add_argument("--prompt", default=None, help="use this prompt instead of selecting one")
    p.add_argument("--keyword", default=None,
                   help="word to expand with WordNet instead of the category's (e.g. for BTAD 01)")
    p.add_argument("--report", action="store_true",
                   help="also write the quality report (report.json/csv, contact_sheet.png)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="forwards of VQGAN and CLIP: auto = bf16 on GPUs with native bf16 "
                   "(compute capability >= 8.0), fp32 elsewhere (CPU always fp32); fp16 comes "
                   "with loss scaling (default: auto)")
    p.add_argument("--no-autocast", action="store_true", help="same as --precision fp32")
    p.add_argument("--checkpoint", choices=("auto", "on", "off"), default="auto",
                   help="activation checkpointing of the VQGAN decoder and CLIP while "
                   "optimising: same results, less GPU memory, ~1 more forward per step; auto "
                   "= on when a step would not fit the GPU's free memory (default: auto)")
    p.add_argument("--micro-batch", type=int, default=None, metavar="K",
                   help="optimise the candidates in chunks of K (less memory, same loss)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the VQGAN decoder and CLIP (slow start; long GPU runs)")
    p.set_defaults(func=_run)
