# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Does generation help a detector? The k-shot benchmark
#
# The proof of the method (Lee & Choi, CVPR 2024): take an **unchanged** anomaly detector from
# anomalib and train it on only k real good images of a product (k = 1 or 5), then on the same
# k images **plus the generated ones** from notebook 03. If the generated images are plausible
# and varied, the detector learns a better picture of "normal" and finds defects more reliably.
#
# Every run trains one of three training sets and tests on the class's **full** test set:
#
# | set | training images | question it answers |
# |---|---|---|
# | (a) `real` | the k real shots | the few-shot baseline |
# | (b) `generated` | the shots + the generated set | does our generation help? |
# | (c) `augmented` | the shots + as many flips / small rotations / shifts / colour jitters of them | the **control** |
#
# **Why the control matters.** Adding *any* extra images can help a memory-bank detector: even
# flipped copies of the one shot cover more positions and orientations. If (b) beats (a) but not
# (c), the "gain" came from having more images, not from text-guided generation. Only (b) > (c)
# says generation adds knowledge that classical augmentation does not.
#
# Every piece of logic lives in `tvig`; this notebook only calls it and shows the results.

# %%
# tvig setup (Colab / Binder): installs tvig when it is missing; no-op locally
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("tvig") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "tvig @ git+https://github.com/ORG/tvig"], check=True)
on_colab = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
if on_colab and not os.path.exists("/usr/share/wordnet/data.noun"):
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wordnet-base", "wordnet-sense-index"], check=True)

# %% tags=["parameters"]
profile = "paper"  # "paper"/"fast" need weights (tvig download); missing -> "tiny" (random weights), loudly
data_root = None  # dataset root; None = the embedded sample classes (no download)
dataset = "sample"  # mvtec_ad, btad, mvtec_loco, sample, folder
category = "metal_nut"
categories = None  # classes of the grid; None = [category]
shots = [1]  # k values; "all" = full-shot
seed = 0
seeds = None  # None = [seed]; use 3+ seeds for k < all to get a std
models = ["patchcore_r18"]  # also padim (k >= 2), patchcore_wrn50, cflow, efficient_ad, reverse_distillation,
# patchcore (your timm backbone: DetectionConfig(backbone=, layers=)), and the few-shot state of the
# art as reference rows: anomaly_dino, winclip (does generation still help a strong detector?)
out_dir = None  # run folder (RunPaths root); None = runs/<dataset>/<category>
generated_dir = None  # None = RunPaths(out_dir).generated_dir (notebook 03's output)
n_augment = None  # size of the control set (c); None = as many as the generated set
device = "cpu"  # Lightning accelerator: cpu, gpu or auto

# %%
import pandas as pd
from IPython.display import Image as ShowImage
from IPython.display import display

from tvig import atomic
from tvig.detection.config import DetectionConfig
from tvig.detection.datasets import choose_shots, resolve_class
from tvig.detection.grid import GridSpec, control_size, plan_train_sets, run_grid, summarise
from tvig.detection.provenance import set_columns
from tvig.detection.run import maps_path, run_dir_for
from tvig.experiment.report import write_report
from tvig.paths import RunPaths, run_dir
from tvig.plots.common import show_figure
from tvig.plots.detection import (
    RANDOM_NOTE,
    load_maps,
    plot_qualitative,
    plot_train_set_bars,
)
from tvig.profiles import RANDOM_WEIGHTS_BANNER, get_profile

P = get_profile(profile)  # detection needs no CLIP/VQGAN weights: no tiny fallback
if P.random_weights:
    print(RANDOM_WEIGHTS_BANNER)
run = RunPaths(out_dir if out_dir is not None else run_dir("runs", dataset, category))
det_dir = run.detection_dir
classes = list(categories) if categories else [category]
seed_list = list(seeds) if seeds else [seed]
gen = generated_dir if generated_dir is not None else run.generated_dir
train_sets, note = plan_train_sets(gen, classes)
if note:
    print(note)
n_augment = control_size(n_augment, train_sets, P.n_images)
print(f"profile {P.name}: {P.detect_image_size} px; classes {classes}; k {shots}; models {models}; "
      f"seeds {seed_list}; train sets {train_sets}; results in {det_dir}")


# %% [markdown]
# ## The data
# Each class is in the MVTec AD layout. The k shots are drawn from `train/good` by seed (and
# hard-linked into the run folder); the test images are never used for training.

# %%
layouts = {c: resolve_class(dataset, data_root, c, work_dir=det_dir) for c in classes}
pd.DataFrame([dict(category=c, train_good=l.n_train, test_good=l.n_test_good,
                   test_defective=l.n_test_defect, defects=", ".join(l.defects))
              for c, l in layouts.items()])

# %% [markdown]
# ## Run the grid
# One row per (class, k, seed, model, train set). Rows already in `results.csv` are skipped,
# so an interrupted grid resumes where it stopped. Offline, the detectors get **random
# backbones** (`pretrained=False` in the table): then the numbers only show that the pipeline
# works, not how good the method is.

# %%
config = DetectionConfig(models=models, image_size=P.detect_image_size, shots=shots,
                         seeds=seed_list, train_sets=train_sets, device=device,
                         n_augment=n_augment, keep_maps=True)
set_cols = {}  # which shots made each class's generated set (and its similarity / diversity)
if "generated" in train_sets:
    for c in classes:
        for k in config.shots:
            for s in config.seeds:
                set_cols[c, k, s] = set_columns(str(gen).format(category=c),
                                                choose_shots(layouts[c], k, s), allow_other=True)
                if set_cols[c, k, s]["generated_shots"] != "same":
                    print(f"NOTE: the generated set of {c} was not made from the k={k}, seed={s} "
                          "shots (its manifest names others): that row is marked "
                          f"{set_cols[c, k, s]['generated_shots']!r}")
run_grid(GridSpec(classes, config), data_root=data_root, dataset=dataset, out_dir=det_dir,
         generated_dir=gen if "generated" in train_sets else None,
         on_row=lambda j: set_cols.get((j["category"], j["k"], j["seed"]), {})
         if j["train_set"] == "generated" else {})
results = pd.DataFrame(atomic.read_csv(det_dir / "results.csv"))
results

# %% [markdown]
# ## Reading the numbers
# - **Image AUROC**: rank all test images by the detector's anomaly score; the AUROC is the
#   probability that a random defective image scores higher than a random good one. 0.5 is
#   chance, 1.0 is a perfect ranking. It needs no threshold.
# - **Image AP**: the area under the precision-recall curve of the same ranking (the share of
#   defective images is its chance level).
# - **Pixel AUROC**: the same over all pixels (defect pixels vs good pixels). Large defects
#   dominate it, and because good pixels vastly outnumber defect pixels it is often high even
#   for a mediocre detector.
# - **AUPRO**: for each defect *region* the fraction of it that is covered (per-region overlap),
#   averaged over regions, integrated up to a false-positive rate of 30 %. Small defects count
#   as much as big ones, so it is the stricter localisation metric.
#
# All four come from the raw scores of the whole test set at once and depend only on their
# ranking (`tvig.detection.metrics`): any score scale gives the same numbers. A class without
# masks leaves the pixel metrics empty.
#
# Below: mean and standard deviation over seeds (different k-shot draws). With few test
# images (the sample classes) a single ranking swap moves AUROC a lot: compare the differences
# with the std before believing them.

# %%
summary = summarise(det_dir / "results.csv")
summary.round(3)

# %%
show_figure(plot_train_set_bars(summary, "image_auroc"), run.figure("04", "bars_image_auroc"))
show_figure(plot_train_set_bars(summary, "aupro"), run.figure("04", "bars_aupro"))

# %% [markdown]
# ## What the detector sees
# For a few defective test images: the image, its ground truth, and for each training set the
# anomaly map, the predicted mask (the map above the threshold anomalib adapts on the test
# set: used for this picture only, not for the metrics) and both outlines.

# %%
k0, s0, m0 = summary["k"].iloc[0], seed_list[0], models[0]
other = "generated" if "generated" in train_sets else "augmented"
label = "+ generated" if other == "generated" else "+ augmentation (stand-in: no generated set)"
rd = run_dir_for(det_dir, dataset, classes[0], k0, s0)
px = P.detect_image_size
fig = plot_qualitative([("baseline", load_maps(maps_path(rd, m0, "real", px))),
                        (label, load_maps(maps_path(rd, m0, other, px)))], n=4,
                       note=None if summary["pretrained"].all() else RANDOM_NOTE)
show_figure(fig, run.figure("04", "qualitative"))

# %% [markdown]
# ## The paper's tables, the gains, and gain vs similarity / diversity (Fig. 2)
# The same report as `tvig experiment report`, from this notebook's `results.csv`: the paper
# README's layout (rows model x train set, columns classes + mean) with the paper's published
# MVTec AD numbers as extra rows, the gains of (b) and of the control (c) over (a) (mean ± std
# over seeds), and, where the generated set has its quality report (notebook 03 writes it),
# the gain against the set's CLIP similarity to the shots and its diversity, one point per run.
# The paper finds that generation helps most when the generated images are *similar* to the
# real ones and *varied*.

# %%
report = write_report(det_dir / "results.csv", run.root / "report")
print(report["markdown"].read_text())
for name in ("quality_figure", "gains_figure"):
    if name in report:
        display(ShowImage(filename=str(report[name])))
    else:
        print(f"{name}: skipped (needs train set (b) and the generated set's report.json)")

# %% [markdown]
# ## The full benchmark on a GPU
# The default parameters run one sample class in a minute on a CPU. The paper's protocol is
# all 15 MVTec AD classes, k = 1 and 5 (and full), several seeds, PatchCore-R18 and friends,
# with the generated set of each class from notebook 03 (`runs/mvtec_ad/<class>/generated`).
# The grid resumes, so it can be stopped and restarted:
#
# ```bash
# papermill notebooks/04_detection.ipynb runs/04_mvtec_ad.ipynb \
#   -p profile paper -p dataset mvtec_ad -p data_root datasets/MVTecAD \
#   -p category bottle \
#   -y 'categories: [bottle, cable, capsule, carpet, grid, hazelnut, leather, metal_nut, pill, screw, tile, toothbrush, transistor, wood, zipper]' \
#   -y 'shots: [1, 5]' -y 'seeds: [0, 1, 2]' -y 'models: [patchcore_r18, padim]' \
#   -p generated_dir 'runs/mvtec_ad/{category}/generated' \
#   -p out_dir runs/mvtec_ad/all -p device gpu
# ```
#
# The whole paper grid, with a generated set made from each run's own shots, is
# `tvig experiment run` (serial or on Ray; README "The experiment"). Download the dataset first
# (`tvig experiment run ... --download`, or anomalib's `MVTecAD`), and
# run once online so that timm caches the backbone weights; otherwise the table says
# `pretrained=False` and the scores mean nothing.
