"""``tvig detect``: one class, one detector, several seeds, by hand (resumable).

The paper's whole grid (generation from each run's own shots included) is ``tvig experiment``;
``tvig detect-grid`` was retired in its favour.

Examples:
    $ tvig detect --data sample --category brick --shots 2 --model padim --control \\
          --n-augment 8 --seeds 0 1 --profile tiny --out runs/det
    $ tvig detect --dataset mvtec_ad --data datasets/MVTecAD --category bottle --shots 5 \\
          --seeds 0 --model patchcore_r18 --generated runs/mvtec_ad/bottle/generated --control
    $ tvig detect --category brick --shots 1 --model patchcore --backbone tf_efficientnet_lite0 \
          --layers blocks.2 blocks.4 --profile tiny --seeds 0
"""

from __future__ import annotations

import argparse

from tvig.detection.config import DetectionConfig
from tvig.detection.datasets import choose_shots, resolve_class
from tvig.detection.detectors import DETECTORS, OWN_BACKBONE
from tvig.detection.grid import GridSpec, run_grid, summarise
from tvig.detection.provenance import set_columns
from tvig.errors import InputError
from tvig.profiles import RANDOM_WEIGHTS_BANNER, get_profile


def _config(args: argparse.Namespace, sets: list[str]) -> DetectionConfig:
    profile = get_profile(args.profile)
    if profile.random_weights:
        print(RANDOM_WEIGHTS_BANNER)
    size = profile.detect_image_size if args.image_size is None else args.image_size
    return DetectionConfig(models=[args.model], image_size=size, shots=[args.shots],
                           seeds=args.seeds, train_sets=sets, device=args.device,
                           n_augment=args.n_augment, epochs=args.epochs,
                           backbone=args.backbone, layers=args.layers, keep_maps=args.maps, download=args.download,
                           pretrained=False if args.no_pretrained else None)


def _report(out_dir: str, rows: list[dict]) -> None:
    if not rows:
        print("nothing new to run: every row is already in the results table")
    cols = ["category", "model", "backbone", "k", "seed", "train_set", "n_train", "image_auroc",
            "image_ap", "pixel_auroc", "aupro", "seconds", "pretrained"]
    for r in rows:
        print("  ".join(f"{c}={r[c]}" for c in cols + (["generated_shots"]
                                                         if "generated_shots" in r else [])))
    summary = summarise(f"{out_dir}/results.csv")
    with __import__("pandas").option_context("display.width", 160, "display.max_columns", 20):
        print(summary.round(3).to_string(index=False))
    if not summary["pretrained"].all():
        print("NOTE: rows with pretrained=False used RANDOM backbones: not meaningful scores")
    print(f"results: {out_dir}/results.csv")


def _detect(args: argparse.Namespace) -> int:
    sets = ["real"] + (["generated"] if args.generated else []) + \
        (["augmented"] if args.control else [])
    cfg = _config(args, sets)
    data = None if args.data == "sample" else args.data
    dataset = args.dataset or ("sample" if data is None else "folder")
    cols: dict[int, dict] = {}
    if args.generated:  # which shots made the set? checked before anything trains
        layout = resolve_class(dataset, data, args.category, download=cfg.download,
                               work_dir=args.out)
        gen = str(args.generated).format(category=args.category)
        for seed in cfg.seeds:
            cols[seed] = set_columns(gen, choose_shots(layout, cfg.shots[0], seed),
                                     allow_other=args.allow_other_shots)
    spec = GridSpec([args.category], cfg)
    rows = run_grid(spec, data_root=data, dataset=dataset, out_dir=args.out,
                    generated_dir=args.generated,
                    on_row=(lambda j: cols[j["seed"]] if j["train_set"] == "generated" else {})
                    if cols else None)
    _report(args.out, rows)
    return 0


def _retired(args: argparse.Namespace) -> int:
    raise InputError("tvig detect-grid was retired: use tvig experiment run (one protocol: "
                     "shots -> prompt -> generated from exactly those shots -> detect; "
                     "resumable, serial or on Ray); see tvig experiment run --help")


def register(sub: argparse._SubParsersAction) -> None:
    models = ", ".join(DETECTORS)
    d = sub.add_parser("detect", help="k-shot anomaly detection: real vs +generated vs "
                       "+augmentation (anomalib)",
                       description="Fit and test one anomalib detector on k real shots of a "
                       "class, with --generated images (b) and with classical augmentation "
                       "(--control, c); appends to OUT/results.csv and skips rows already "
                       f"there. Models: {models}. The generated set must be made from the "
                       "run's own shots (its manifest names them).")
    d.add_argument("--category", required=True)
    d.add_argument("--shots", default="1", help="k: 1, 5, ... or all")
    d.add_argument("--model", default="patchcore_r18",
                   help=f"one of: {models} (padim needs >= 2 training images; anomaly_dino and "
                   "winclip are the few-shot reference rows)")
    d.add_argument("--control", action="store_true",
                   help="also run (c): real + classical augmentation of the same shots")
    d.add_argument("--maps", action="store_true", help="save anomaly maps for the figures")
    d.add_argument("--data", default="sample", metavar="ROOT",
                   help="dataset root folder, or 'sample' for the embedded sample classes")
    d.add_argument("--dataset", default=None,
                   help="mvtec_ad, btad, mvtec_loco, sample or folder (default: sample when "
                   "--data sample, else folder = any MVTec-layout root)")
    d.add_argument("--generated", default=None, metavar="DIR",
                   help="generated images for train set (b): a tvig generate folder made from "
                   "this run's shots ({category} is replaced by the class name)")
    d.add_argument("--allow-other-shots", action="store_true",
                   help="use a --generated set made from other shots (the row says so)")
    d.add_argument("--n-augment", type=int, default=None,
                   help="augmented images for the control (default: as many as --generated)")
    d.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    d.add_argument("--out", default="runs/detection", help="results folder (results.csv, runs/)")
    d.add_argument("--profile", default="fast", help="image size from the profile (tiny: 64 px)")
    d.add_argument("--image-size", type=int, default=None, help="override the profile's size")
    d.add_argument("--backbone", default=None, metavar="NAME",
                   help=f"any timm model with features_only, for {', '.join(OWN_BACKBONE)} "
                   "(weights only from the local cache: tvig assets lists them)")
    d.add_argument("--layers", nargs="+", default=None, metavar="LAYER",
                   help="the backbone's feature layers (default: the stages with the model's "
                   "strides, e.g. layer2 layer3 for PatchCore on a ResNet); a wrong name "
                   "lists the valid ones")
    d.add_argument("--epochs", type=int, default=None, help="override the detector's epochs")
    d.add_argument("--device", default="cpu", help="cpu, cuda (= gpu) or auto")
    d.add_argument("--download", action="store_true",
                   help="let anomalib download MVTec AD / BTAD when missing (needs network)")
    d.add_argument("--no-pretrained", action="store_true",
                   help="random backbone even when weights are cached")
    d.set_defaults(func=_detect)
    g = sub.add_parser("detect-grid", help="retired: use tvig experiment run",
                       description="Retired in favour of tvig experiment run.",
                       prefix_chars="+", add_help=False)  # every old flag lands in ``rest``
    g.add_argument("rest", nargs="*")
    g.set_defaults(func=_retired)
