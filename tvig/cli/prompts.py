"""``tvig prompts``: rank WordNet prompt candidates for a class against its shot images.

Example:
    tvig prompts --category metal_nut --images shots/ --profile tiny --top 10
    tvig prompts --category 01 --dataset btad --images a.png --json --out runs/btad/01
"""

from __future__ import annotations

import argparse
import json
import sys

from tvig.errors import ConfigError, choices_text
from tvig.models.clip import load_clip
from tvig.profiles import RANDOM_WEIGHTS_BANNER, get_profile
from tvig.prompting.keywords import KEYWORDS
from tvig.prompting.ranking import format_ranking, prepare_shots, select_prompt
from tvig.seeding import resolve_device


def _run(args: argparse.Namespace) -> int:
    profile = get_profile(args.profile)  # bad names fail before any loading
    device = resolve_device(args.device)
    if args.top is not None and args.top < 1:
        raise ConfigError(f"--top must be >= 1, got {args.top}")
    if args.dataset is not None and args.dataset not in KEYWORDS:

        raise ConfigError(choices_text("dataset", args.dataset, list(KEYWORDS)))

    out = sys.stderr if args.json else sys.stdout
    if profile.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=out)
    # validated before any model loads; prepared exactly as tvig generate prepares them
    shots = prepare_shots(args.images, profile)  # (k, 3, S, S), S = profile.image_size
    clip = load_clip(profile, device)
    sel = select_prompt(args.category, shots, clip, dataset=args.dataset, keyword=args.keyword,
                        profile=profile, captions=not args.no_caption)
    rows = sel.ranking[:args.top] if args.top else sel.ranking
    if args.out:
        path = sel.save(args.out)
        print(f"selection written to {path}", file=out)
    for n in sel.notes:
        print(f"note: {n}", file=out)
    if args.json:
        print(json.dumps([dict(rank=i, prompt=r.prompt, score=r.score, relation=r.relation,
                               word=r.word, synset=r.synset, random_weights=profile.random_weights)
                          for i, r in enumerate(rows, 1)], indent=2))
        return 0
    print(f"keyword: {sel.keyword!r}  sense: {', '.join(sel.expansion.chosen) or '-'}  "
          f"shots: {sel.n_shots}  candidates: {len(sel.ranking)}  profile: {profile.name}")
    print(format_ranking(rows))
    print(f"\nselected prompt p*: {sel.prompt!r}  (score {sel.score:.4f})")
    print("comparison prompts:")
    print(format_ranking(sel.comparison))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prompts", help="rank WordNet-based prompts for a class with CLIP",
                       description="Expand the class keyword with WordNet, fill the prompt "
                       "templates, score each prompt by the cosine between its CLIP text "
                       "embedding and the mean CLIP embedding of the images, print the ranking.")
    p.add_argument("--category", required=True, help="class name (metal_nut, 01, screw_bag...)")
    p.add_argument("--images", nargs="+", required=True, metavar="PATH",
                   help="shot images (files or folders)")
    p.add_argument("--profile", default="paper", help="paper | fast | tiny (default paper)")
    p.add_argument("--dataset", default=None,
                   help="keyword table to use (mvtec_ad, btad, mvtec_loco, sample); default: any")
    p.add_argument("--keyword", default=None, help="use this keyword instead of the table's")
    p.add_argument("--top", type=int, default=None, help="show only the N best prompts")
    p.add_argument("--json", action="store_true", help="print the ranking as JSON")
    p.add_argument("--out", default=None, metavar="RUN_DIR",
                   help="also write RUN_DIR/prompt.json (read by notebooks 02/03)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--no-caption", action="store_true",
                   help="skip the BLIP caption comparison prompt")
    p.set_defaults(func=_run)
