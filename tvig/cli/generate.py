"""``tvig generate``: shots + product name -> OUT/images/*.png + OUT/manifest.csv (+ report)."""

from __future__ import annotations

import argparse

from tvig.pipeline import generate
from tvig.profiles import PROFILES
from tvig.seeding import DEVICES
from tvig.speed import PRECISIONS, SpeedConfig


def _run(args: argparse.Namespace) -> int:
    speed = SpeedConfig(precision="fp32" if args.no_autocast else args.precision,
                        micro_batch=args.micro_batch, compile=args.compile,
                        checkpoint={"auto": None, "on": True, "off": False}[args.checkpoint])
    res = generate(args.images, args.category, args.out, profile=args.profile, n=args.n,
                   rounds=args.rounds, seed=args.seed, device=args.device,
                   prompt=args.prompt, keyword=args.keyword, report=args.report,
                   progress=not args.quiet, speed=speed)
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
    p.add_argument("--rounds", type=int, default=None, help="integrator rounds R "
                   "(default: the profile's)")
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
