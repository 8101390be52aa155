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
# # 02 · The variance-aware VQGAN generator
#
# Module 2 of *Text-Guided Variational Image Generation for Industrial Anomaly Detection*
# (Lee & Choi, CVPR 2024), as tvig implements it.
#
# From one or a few **good** images (the *shots*) we want many new good images that are
# (a) still the same object and (b) visibly different from each other. The idea:
#
# 1. A **VQGAN** turns an image into a grid of latent vectors (256 px → 16 × 16 × 256) and back.
# 2. Encode the shots and mild, *status-consistent* augmentations of them (small shifts, flips,
#    colour jitter: changes that keep a good part good). Their per-position mean and spread give
#    a Gaussian **N(μ₀, σ₀²)** over latents: what "this product" looks like, and how much it may vary.
# 3. Sample candidates **z = μ + σ·ε** and decode them. Then optimise **μ and log σ** so that the
#    decoded images match the text prompt (CLIP), stay close to the shots (CLIP), and the
#    distribution stays near N(μ₀, σ₀²) (a KL term that also keeps σ from collapsing).
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
profile = "paper"  # "paper", "fast" or "tiny" (random weights: pictures mean nothing)
data_root = None  # MVTec-style root folder; None: an embedded sample class (no download)
category = "metal_nut"
shots = 1  # k, the number of real good images
seed = 0
out_dir = None  # run folder (RunPaths root); None: runs/sample/<category>
prompt = None  # None: the prompt chosen by notebook 01, else "a photo of a <category>"
n = 4  # candidates per optimisation step (one batch)
steps = None  # optimisation steps; None: the profile's
device = "auto"

# %%
import matplotlib.pyplot as plt
import torch

from tvig.models.clip import load_clip
from tvig.generator import latent_stats, optimise, sample_images
from tvig.generator.metrics import set_metrics
from tvig.paths import RunPaths, run_dir
from tvig.plots import generation as gplots
from tvig.plots.common import image_grid, show_figure
from tvig.profiles import RANDOM_WEIGHTS_BANNER, get_profile, profile_or_tiny
from tvig.prompting.ranking import load_prompt
from tvig.seeding import resolve_device
from tvig.detection.shots import load_shots
from tvig.models.vqgan import load_vqgan
from tvig.tutorial.widgets import sigma_explorer

P = get_profile(profile_or_tiny(profile), steps=steps)
dev = resolve_device(device)
run = RunPaths(out_dir if out_dir is not None else run_dir("runs", "sample", category))
note = RANDOM_WEIGHTS_BANNER if P.random_weights else None
if note:
    print(note)
print(f"profile {P.name}: VQGAN {P.vqgan}, CLIP {P.clip_model}, {P.image_size} px, "
      f"{P.steps} steps, lr {P.lr}, {P.cutouts} cutouts; device {dev}; run folder {run.root}")


# %% [markdown]
# ## The shots
# The k real good images we start from (resized to the generator's resolution).

# %%
x_shots, shot_files, notes = load_shots(data_root, category, shots, P.image_size, seed=seed,
                                         workdir=run.root)
for line in notes:
    print("note:", line)
show_figure(image_grid(x_shots, title=f"{category}: {shots} shot(s)"), run.figure("02", "shots"))

# %% [markdown]
# ## The VQGAN and its reconstructions
# `decode(quantize(encode(x)))`: encoding gives a continuous latent grid; quantisation snaps
# each latent vector to its nearest codebook entry; decoding paints the image back. A good
# reconstruction means the latent space can express this product.

# %%
vqgan = load_vqgan(P, dev)
clip = load_clip(P, dev)
with torch.inference_mode():
    recon = vqgan(x_shots.to(dev)).cpu()
show_figure(gplots.reconstructions(x_shots, recon, note=note), run.figure("02", "reconstructions"))

# %% [markdown]
# ## The latent distribution: one Gaussian per shot
# The distribution is a mixture with **one component per shot**: μ₀ʲ is shot j's own latent
# (a mean of shifted or flipped copies would decode to a ghost of the shot), σ₀ʲ is how far the
# latents of `n_augment` *status-consistent* augmentations of that shot move from it (never
# below `sigma_floor`, so even one shot gives a spread). Which augmentations a class allows is
# data (`tvig augmentations --category metal_nut`): a mirrored metal nut is a defect, so it has
# no flips. Candidate i belongs to component i mod k. Bright σ₀ marks positions where the
# product may vary (shown for shot 0).

# %%
from tvig.augmentations import rules_for

rules = rules_for(category)
print("augmentations:", rules.describe())
dist0 = latent_stats(vqgan, x_shots, P, seed=seed, rules=rules)
print(f"mu_0, sigma_0: {tuple(dist0.mu.shape)} = {dist0.k} component(s); sigma_0 mean "
      f"{dist0.sigma.mean():.4f}, min {dist0.sigma.min():.4f} (floor {P.sigma_floor}); each "
      f"shot's own round-trip distance (the unit of the score's D): "
      f"{[round(v, 2) for v in dist0.round_trip.tolist()]}")
show_figure(gplots.latent_heatmaps(dist0.to("cpu"), note=note), run.figure("02", "latent_heatmaps"))

# %% [markdown]
# ## From variance to variety
# Same ε, growing scale: z = μ₀ + scale·σ₀·ε. At scale 0 every candidate is the mean image;
# the larger the scale, the more the candidates differ (and, too large, stop looking like the
# product). The sliders below redraw this for any scale and seed.

# %%
scales = (0.0, 0.5, 1.0, 2.0)
rows = {s: sample_images(vqgan, dist0, n, seed=seed, scale=s).cpu() for s in scales}
show_figure(gplots.samples_at_scales(rows, note=note), run.figure("02", "samples_at_scales"))

# %%
sigma_explorer(vqgan, dist0, n=n, seed=seed, note=note)

# %% [markdown]
# ## CLIP-guided optimisation of (μ, log σ)
# The prompt comes from notebook 01 when it ran in this run folder. Per step the generator
# samples n candidates, quantises (straight-through: gradients pass the rounding), decodes,
# and minimises
#
# λ_text · d(CLIP(cutouts), CLIP(prompt)) + λ_img · d(CLIP(image), mean CLIP(shots))
# + λ_KL · KL(N(μ, σ²) ‖ N(μ₀, σ₀²)),
#
# with d the spherical distance between unit embeddings.

# %%
text, source = load_prompt(run.root, category, prompt)
print(f"prompt: {text!r}  (from {source})")
text_emb = clip.encode_texts([text])
with torch.no_grad():
    shot_emb = clip.encode_images(x_shots.to(dev))
before = sample_images(vqgan, dist0, n, seed=seed).cpu()
result = optimise(vqgan, clip, dist0, text_emb=text_emb, shot_emb=shot_emb, profile=P, n=n,
                  seed=seed)
show_figure(gplots.loss_curves(result.history, note=note), run.figure("02", "loss_curves"))
show_figure(gplots.before_after(before, result.images.cpu(), note=note), run.figure("02", "before_after"))
lo, hi = vqgan.codebook_range()
print(f"after optimisation: mu inside the codebook range: "
      f"{bool(((result.dist.mu >= lo) & (result.dist.mu <= hi)).all())}; min sigma / sigma_0 = "
      f"{float((result.dist.sigma / dist0.sigma).min()):.3f} (kept >= rho = {P.rho})")

# %% [markdown]
# The learned (μ, σ) is saved to the run folder (`latent.pt`) for inspection and reuse with
# `tvig.generator.LatentDist.load`. Notebook 03 deliberately starts each run again from the
# real (μ₀, σ₀): there, what carries over between rounds is only what the selector kept.

# %%
result.dist.save(run.latent_pt, prompt=text, profile=P.name, vqgan=P.vqgan,
                 random_weights=P.random_weights, seed=seed, shots=[str(f) for f in shot_files])
print(f"wrote {run.latent_pt}")

# %% [markdown]
# ## Ablation: does the variance help?
# Same budget (steps, candidates, seed), two generators:
# - **sigma = 0**: σ held at 0, only μ learnt: plain VQGAN-CLIP started from the shots' mean
#   latent. All candidates are the same image.
# - **variance-aware**: μ and σ learnt as above.
#
# *Diversity* is the mean pairwise CLIP distance (1 − cos) between candidates, *similarity*
# the mean cosine to the shots. The paper's Fig. 2 says detection gains grow with both.

# %%
flat = optimise(vqgan, clip, dist0, text_emb=text_emb, shot_emb=shot_emb, profile=P, n=n,
                seed=seed, fixed_sigma=0.0)
metrics = {"sigma = 0": set_metrics(clip, flat.images, shot_emb),
           "variance-aware": set_metrics(clip, result.images, shot_emb)}
print(f"{'generator':<16} {'diversity':>10} {'similarity':>11}")
for name, m in metrics.items():
    print(f"{name:<16} {m['diversity']:>10.4f} {m['similarity']:>11.4f}")
if note:
    print("(random weights: these numbers mean nothing)")
show_figure(gplots.ablation_figure(metrics, {"sigma = 0": flat.images.cpu(),
                                      "variance-aware": result.images.cpu()}, note=note), run.figure("02", "ablation"))

# %% [markdown]
# ## What next
# Notebook 03 repeats this optimisation in rounds from the real (μ₀, σ₀): it samples many
# candidates per round, scores them with CLIP, keeps the best and re-estimates (μ, σ) from
# them and the real shots: the text-guided knowledge integrator.
