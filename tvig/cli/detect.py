"""``tvig detect`` (one class, one detector, several seeds) and ``tvig detect-grid`` (resumable).

Examples:
    $ tvig detect --data sample --category brick --shots 2 --model padim --control \\
          --n-augment 8 --seeds 0 1 --profile tiny --out runs/det
    $ tvig detect --dataset mvtec_ad --data datasets/MVTecAD --category bottle --shots 5 \\
          --model patchcore_r18 --generated runs/mvtec_ad/bottle/generated --control
    $ tvig detect --category brick --shots 1 --model patchcore --backbone tf_efficientnet_lite0 \
          --layers blocks.2 blocks.4 --profile tiny --seeds 0
    $ tvig detect-grid --dataset mvtec_ad --data datasets/MVTecAD --categories bottle screw \\
          --shots 1 5 --models patchcore_r18 --generated "runs/mvtec_ad/{category}/generated"
"""

from __future__ import annotations

import argparse

from tvig.detection.detectors import DETECTORS, OWN_BACKBONE
from tvig.detection.grid import GridSpec, run_grid, summarise
from tvig.detection.training_sets import TRAIN_SETS
from tvig.profiles import RANDOM_WEIGHTS_BANNER, get_profile


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="sample", metavar="ROOT",
                   help="dataset root folder, or 'sample' for the embedded sample classes")
    p.add_argument("--dataset", default=None,
                   help="mvtec_ad, btad, mvtec_loco, sample or folder (default: sample when "
                   "--data sample, else folder = any MVTec-layout root)")
    p.add_argument("--generated", default=None, metavar="DIR",
                   help="generated images for train set (b) (a tvig generate folder or any "
                   "folder of images; {category} is replaced by the class name)")
    p.add_argument("--n-augment", type=int, default=None,
                   help="augmented images for the control (default: as many as --generated)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/detection", help="results folder (results.csv, runs/)")
    p.add_argument("--profile", default="fast", help="image size from the profile (tiny: 64 px)")
    p.add_argument("--image-size", type=int, default=None, help="override the profile's size")
    p.add_argument("--backbone", default=None, metavar="NAME",
                   help=f"any timm model with features_only, for {', '.join(OWN_BACKBONE)} "
                   "(weights only from the local cache: tvig assets lists them)")
    p.add_argument("--layers", nargs="+", default=None, metavar="LAYER",
                   help="the backbone's feature layers (default: the stages with the model's "
                   "strides, e.g. layer2 layer3 for PatchCore on a ResNet); a wrong name "
                   "lists the valid ones")
    p.add_argument("--epochs", type=int, default=None, help="override the detector's epochs")
    p.add_argument("--device", default="cpu", help="cpu, gpu or auto (Lightning accelerator)")
    p.add_argument("--download", action="store_true",
                   help="let anomalib download MVTec AD / BTAD when missing (needs network)")
    p.add_argument("--no-pretrained", action="store_true",
                   help="random backbone even when weights are cached")


def _settings(args: argparse.Namespace) -> dict:
    profile = get_profile(args.profile)
    if profile.random_weights:
        print(RANDOM_WEIGHTS_BANNER)
    data = None if args.data == "sample" else args.data
    dataset = args.dataset or ("sample" if data is None else "folder")
    return dict(data_root=data, dataset=dataset, out_dir=args.out,
                image_size=(profile.detect_image_size if args.image_size is None
                            else args.image_size),
                generated_dir=args.generated, n_augment=args.n_augment,
                backbone=args.backbone, layers=args.layers, epochs=args.epochs, device=args.device,
                download=args.download, pretrained=False if args.no_pretrained else None)


def _report(out_dir: str, rows: list[dict]) -> None:
    if not rows:
        print("nothing new to run: every row is already in the results table")
    cols = ["category", "model", "backbone", "k", "seed", "train_set", "n_train", "image_auroc",
            "image_ap", "pixel_auroc", "aupro", "seconds", "pretrained"]
    for r in rows:
        print("  ".join(f"{c}={r[c]}" for c in cols))
    summary = summarise(f"{out_dir}/results.csv")
    with __import__("pandas").option_context("display.width", 160, "display.max_columns", 20):
        print(summary.round(3).to_string(index=False))
    if not summary["pretrained"].all():
        print("NOTE: rows with pretrained=False used RANDOM backbones: not meaningful scores")
    print(f"results: {out_dir}/results.csv")


def _detect(args: argparse.Namespace) -> int:
    sets = ["real"] + (["generated"] if args.generated else []) + \
        (["augmented"] if args.control else [])
    spec = GridSpec(categories=[args.category], shots=[args.shots], models=[args.model],
                    train_sets=sets, seeds=args.seeds)
    s = _settings(args)
    rows = run_grid(spec, keep_maps=args.maps, **s)
    _report(args.out, rows)
    return 0


def _grid(args: argparse.Namespace) -> int:
    spec = GridSpec(categories=args.categories, shots=args.shots, models=args.models,
                    train_sets=args.train_sets, seeds=args.seeds)
    rows = run_grid(spec, keep_maps=args.maps, **_settings(args))
    _report(args.out, rows)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    models = ", ".join(DETECTORS)
    d = sub.add_parser("detect", help="k-shot anomaly detection: real vs +generated vs "
                       "+augmentation (anomalib)",
                       description="Fit and test one anomalib detector on k real shots of a "
                       "class, with --generated images (b) and with classical augmentation "
                       "(--control, c); appends to OUT/results.csv and skips rows already "
                       f"there. Models: {models}.")
    d.add_argument("--category", required=True)
    d.add_argument("--shots", default="1", help="k: 1, 5, ... or all")
    d.add_argument("--model", default="patchcore_r18",
                   help=f"one of: {models} (padim needs >= 2 training images; anomaly_dino and "
                   "winclip are the few-shot reference rows)")
    d.add_argument("--control", action="store_true",
                   help="also run (c): real + classical augmentation of the same shots")
    d.add_argument("--maps", action="store_true", help="save anomaly maps for the figures")
    _common(d)
    d.set_defaults(func=_detect)
    g = sub.add_parser("detect-grid", help="run classes x shots x models x train sets x seeds "
                       "(resumes where it stopped)")
    g.add_argument("--categories", nargs="+", required=True)
    g.add_argument("--shots", nargs="+", default=["1", "5"])
    g.add_argument("--models", nargs="+", default=["patchcore_r18"], help=f"of: {models}")
    g.add_argument("--train-sets", nargs="+", default=list(TRAIN_SETS), help="real generated "
                   "augmented (generated needs --generated)")
    g.add_argument("--maps", action="store_true", help="save anomaly maps for the figures")
    _common(g)
    g.set_defaults(func=_grid)
