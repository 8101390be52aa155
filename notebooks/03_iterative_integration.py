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
# # 03 · Iterative integration: rounds of generate → score → keep → merge
#
# Notebook 02 learned a Gaussian over VQGAN latents, N(mu, sigma²), and steered it with CLIP.
# One optimisation run is not the end: some of its candidates look more like the prompt, some
# more like the real product, some drift away from anything real. The method's third module,
# the **text-guided knowledge integrator**, repeats the generation in **rounds**:
#
# 1. sample and optimise **N candidates** from the current (mu, sigma);
# 2. **score** each one with text knowledge (the prompt), image knowledge (the shots) and a
#    penalty for leaving the real latent distribution;
# 3. **keep the top m**;
# 4. re-encode the kept images and **merge** their latents with the real ones: that is the
#    (mu, sigma) of the next round.
#
# At the end the kept images (and, if you ask for more, cheap extra samples from the learned
# distribution) are written as a **generated set**: PNG files plus a manifest, the input of
# notebook 04's detectors. Everything here is a `tvig` function; the notebook only calls them.

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
data_root = None  # a dataset folder in the MVTec layout; None: embedded sample class
dataset = "sample"  # keyword table: mvtec_ad, btad, mvtec_loco, sample
category = "metal_nut"  # class folder name
shots = 1  # k real non-defective images
seed = 0  # picks the shots and seeds every round
out_dir = None  # the run folder; None: runs/<dataset>/<category>
rounds = None  # R; None: the profile's
candidates = None  # N per round; None: the profile's
keep = None  # m kept per round; None: the profile's
n_images = None  # images in the exported set; None: the profile's
merge_weight = 0.5  # share of the kept latents in the next round's (mu, sigma)
steps = None  # optimisation steps per round; None: the profile's
device = "auto"

# %%
import json

import matplotlib.pyplot as plt
import torch
from IPython.display import Image as ShowImage, display

from tvig.integrator.rounds import IntegratorConfig
from tvig.paths import RunPaths, run_dir
from tvig.pipeline import generate, run_prompt
from tvig.plots.common import show_figure
from tvig.plots.integration import (diversity_and_terms, drift_table, latent_drift, round_browser,
                                    round_gallery, score_terms_over_rounds)
from tvig.profiles import RANDOM_WEIGHTS_BANNER, get_profile, profile_or_tiny
from tvig.integrator.report import contact_sheet
from tvig.detection.shots import load_shots

prof = get_profile(profile_or_tiny(profile), steps=steps, rounds=rounds, candidates=candidates, keep=keep)
config = IntegratorConfig.from_profile(prof, merge_weight=merge_weight)
run = RunPaths(out_dir if out_dir is not None else run_dir("runs", dataset, category))
banner = RANDOM_WEIGHTS_BANNER if prof.random_weights else None
if banner:
    print(banner)
print("run folder:", run.root)
print(config)

# %% [markdown]
# ## 1 · The shots and the prompt
# The same k shots as notebook 01 (same `seed`), and the prompt p* it selected. If notebook 01
# has not been run for this run folder, `generate` selects the prompt itself (WordNet + CLIP).

# %%
x, shot_files, notes = load_shots(data_root, category, shots, prof.image_size, seed=seed,
                                  workdir=run.root)  # (k, 3, S, S) in [0, 1]
for line in notes:
    print("note:", line)
display(contact_sheet(x, x[:0], title=f"{category}: {shots} shot(s)"))
prompt, note = run_prompt(run.root)
print(note)
print("prompt p*:", prompt or "(selected by generate in section 3)")

# %% [markdown]
# ## 2 · How a candidate is scored, kept and merged
#
# For a candidate image x whose re-encoded latent is z:
#
# $$\text{score} = a\,\cos(E_{img}(x), E_{txt}(p^*)) + b\,\cos(E_{img}(x), \overline{E_{img}(\text{shots})}) - c\,D(z)$$
#
# * the **text term** rewards looking like the prompt (text knowledge);
# * the **image term** rewards looking like the real shots (image knowledge);
# * $D(z) = \text{mean}_{C,h,w}\big((z-\mu_0)/\sigma_0\big)^2$ is the mean squared
#   *Mahalanobis distance* of z under the real latents' Gaussian N(mu_0, sigma_0²). A latent
#   drawn from that Gaussian has D ≈ 1; D ≫ 1 means "nothing real looks like this".
#
# The top m by score are kept. The next round's (mu, sigma) are the mean and standard deviation
# of a **mixture**: weight 1 − w on the real Gaussian, weight w shared by the m kept latents:
#
# $$\mu = (1-w)\mu_0 + w\,\overline{z},\qquad \sigma^2 = (1-w)(\sigma_0^2+\mu_0^2) + w\,\overline{z^2} - \mu^2$$
#
# (sigma is floored so it never collapses). Every round stays anchored to the real product,
# and the candidates that fit both text and image pull it along. A toy example with three
# 1-number "latents":

# %%
from tvig.integrator.scoring import combine_scores, merge_latents, top_m

text, img, dist = torch.tensor([0.30, 0.25, 0.35]), torch.tensor([0.80, 0.90, 0.50]), torch.tensor([1.0, 0.8, 6.0])
total = combine_scores(text, img, dist, a=config.a, b=config.b, c=config.c)
kept = top_m(total, 2)
print("scores:", [round(v, 3) for v in total.tolist()], "-> kept (best first):", kept.tolist())
print("candidate 2 has the best text term but is far from the real latents (D = 6):",
      "kept" if 2 in kept else "dropped")
mu, sigma = merge_latents(torch.zeros(1, 1, 1), torch.ones(1, 1, 1),
                          torch.tensor([1.0, 2.0, 9.0]).view(3, 1, 1, 1)[kept],
                          weight=config.merge_weight, sigma_floor=config.sigma_floor)
print(f"mu_0 = 0, sigma_0 = 1, kept latents {[[1.0, 2.0, 9.0][i] for i in kept]} "
      f"-> mu = {mu.item():.3f}, sigma = {sigma.item():.3f}")

# %% [markdown]
# ## 3 · Run the rounds and write the set
# `tvig.pipeline.generate` does it all: checks the inputs, loads CLIP and the VQGAN, learns
# (mu_0, sigma_0) from the shots and their augmentations, runs the R rounds, and writes
# `generated/images/*.png` + `generated/manifest.csv` into the run folder, plus the quality
# report. Rerunning this cell resumes: finished rounds and images are loaded, not redone.

# %%
res = generate(shot_files, category, run.generated_dir, profile=prof, n=n_images, seed=seed,
               device=device, prompt=prompt, report=True, merge_weight=merge_weight)
records = res.result.records
print(f"{len(records)} rounds, {len(res.rows)} images in {res.images_dir}")

# %% [markdown]
# ## 4 · Each round's candidates
# Green frames are the kept ones, ranked by the combined score; under each image: its score and
# the three terms (t = text cosine, i = image cosine, D = latent distance). A candidate is kept
# because its *combined* score beats the others, not for any single term.

# %%
for rec in records:
    round_gallery(rec, banner=banner)
    plt.show()

# %% [markdown]
# Browse the rounds with a slider (in a live notebook):

# %%
display(round_browser(records, banner=banner))

# %% [markdown]
# ## 5 · Score terms over rounds and the drift of (mu, sigma)
# Grey dots: dropped candidates; green: kept; the line: mean of the kept. If the integrator
# works, the kept scores rise over rounds while the latent distance stays moderate.
# The drift plot shows how far the learned mean moves from the real one (in units of sigma_0)
# and whether the spread sigma stays near the real spread (ratio ≈ 1) instead of collapsing.

# %%
score_terms_over_rounds(records, banner=banner)
plt.show()
latent_drift(records, res.result.mu0, res.result.sigma0, banner=banner)
plt.show()
for row in drift_table(records, res.result.mu0, res.result.sigma0):
    print(f"round {row['round']}: mean |mu - mu_0| / sigma_0 = {row['mean_shift']:.3f}, "
          f"mean sigma / sigma_0 = {row['sigma_ratio']:.3f}")

# %% [markdown]
# ### Diversity per round and the spread of the score terms
# Each round records the diversity of its candidates: mean pairwise CLIP distance and pixel
# distance, also *relative to the shots' own status-consistent augmentations* (1 = as varied
# as augmenting the shots; the paper's point is to stay well above "one image"). The score's
# three terms have comparable scales because D is in units of each shot's own round trip
# (D = 1: as far from its shot as the shot's reconstruction); their spread shows which term
# actually decides the selection.

# %%
show_figure(diversity_and_terms(records, json.loads(res.rows[0]["integrator_params"]),
                                banner=banner), run.figure("03", "diversity_and_terms"))
for rec in records:
    d = rec.diversity
    print(f"round {rec.round}: CLIP diversity {d.get('clip', float('nan')):.4f} "
          f"({d.get('clip_rel', float('nan')):.2f}x the augmentations), pixel "
          f"{d.get('pixel', float('nan')):.4f} ({d.get('pixel_rel', float('nan')):.2f}x); "
          f"components {rec.components.tolist()}")

# %% [markdown]
# ## 6 · The exported set (input of notebook 04)
# One manifest row per image: which path it took (`kept` by a round, or `pooled`: the best
# draws of a pool `oversample` times larger, drawn from the learned mixture when n > R·m; `raw`
# only with the `raw_draws` ablation), its rank in its pool, its component (shot), its seed,
# the prompt, every score term, and the profile, overrides and augmentations (JSON), so the
# set can be traced and reproduced.

# %%
cols = ("file", "source", "rank", "pool_size", "component", "round", "seed", "score_text",
        "score_img", "score_latent", "score")
print("  ".join(f"{c:>12}" for c in cols))
for r in res.rows:
    print("  ".join(f"{(r[c][:8] if c.startswith('score') else r[c]):>12}" for c in cols))
print("manifest:", res.manifest)

# %% [markdown]
# ## 7 · Quality report
# The two factors the paper links to the detection gain: **similarity** of the generated images
# to the shots (mean CLIP cosine) and their **diversity** (mean pairwise CLIP distance),
# compared with the shots' own diversity. The contact sheet shows the shots above the set.

# %%
print(json.dumps(json.loads(res.report["json"].read_text()), indent=2))
display(ShowImage(filename=str(res.report["sheet"])))
print("notebook 04 reads the set from", run.generated_dir)
