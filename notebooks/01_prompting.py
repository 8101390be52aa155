# ---
# jupyter:
#   jupytext:
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
# # 01 · From a class name to a prompt: WordNet + CLIP
#
# The generator of notebooks 02 and 03 is steered by **one sentence**, the prompt p*. This
# notebook builds it the way the method's *keyword-to-prompt generator* does:
#
# 1. turn the class name into a **keyword** (`metal_nut` → "metal nut");
# 2. ask **WordNet** for related words (synonyms, more general words, more specific words,
#    adjectives, words from the definition);
# 3. fill **templates** with them to get many candidate prompts;
# 4. let **CLIP** score each candidate against your few real images, and keep the best.
#
# Everything is a `tvig` function; this notebook only calls them and shows the results.

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
data_root = None  # a dataset folder in the MVTec layout (None: embedded sample class)
dataset = "sample"  # keyword table: mvtec_ad, btad, mvtec_loco, sample (or a folder name)
category = "metal_nut"  # class folder name
shots = 1  # k real non-defective images
seed = 0  # which k images are picked
top = 15  # rows shown in the ranking
keyword = None  # override the table's keyword, e.g. "hex nut"
out_dir = None  # the run folder (None: runs/DATASET/CATEGORY)
device = "auto"

# %%
import matplotlib.pyplot as plt
from IPython.display import display

from tvig.models.clip import load_clip
from tvig.paths import RunPaths, run_dir
from tvig.plots.common import image_grid
from tvig.plots.prompting import plot_ranking, plot_relations
from tvig.profiles import RANDOM_WEIGHTS_BANNER, get_profile, profile_or_tiny
from tvig.seeding import resolve_device
from tvig.detection.shots import load_shots

prof = profile_or_tiny(profile)
run = RunPaths(out_dir if out_dir is not None else run_dir("runs", dataset, category))
if prof.random_weights:
    print(RANDOM_WEIGHTS_BANNER)
print("run folder:", run.root)

# %% [markdown]
# ## 1 · The shots
# The k real, non-defective images. They are all the generator will ever see of the product.

# %%
x, shot_files, notes = load_shots(data_root, category, shots, 224, seed=seed, workdir=run.root)
for line in notes:  # (k, 3, 224, 224) in [0, 1]; converted images are named here
    print("note:", line)
fig = image_grid(x, titles=[p.name for p in shot_files], title=f"{category}: {shots} shot(s)")
plt.show()

# %% [markdown]
# ## 2 · Keyword and WordNet senses
#
# WordNet groups words into **synsets** (one meaning each). The word "nut" has seven noun
# senses: the *fruit* (nut.n.01), an Egyptian goddess, the *fastener* (nut.n.03), a printer's
# unit, an eccentric person... If we expanded the wrong sense, "metal nut" would collect
# words like *seed* and *kernel*, and the generator would drift towards food.
#
# "metal nut" itself is not in WordNet, so tvig looks up its **head noun** "nut" and scores
# every sense: +2 for each *context word* (here "metal", plus any hints from the keyword
# table) the sense's definition or parents mention, +1 for made objects (`noun.artifact`),
# and a small penalty for rare senses. Only nut.n.03 "a small (usually square or hexagonal)
# **metal** block with internal screw thread" mentions metal, so the fastener wins.
# The right panel below lists every sense with its score and the reason.

# %%
from tvig.prompting.expansion import expand
from tvig.prompting.keywords import canonical_dataset, resolve_keyword

table = canonical_dataset(dataset)  # e.g. a root folder "mvtec_anomaly_detection" -> mvtec_ad
entry = resolve_keyword(category, table, keyword=keyword)
print(f"class {category!r} -> keyword {entry.keyword!r} (hints: {list(entry.hints)}, from {entry.source})")
expansion = expand(entry.keyword, entry.hints)
for note in expansion.notes:
    print("note:", note)
fig = plot_relations(expansion)
plt.show()

# %% [markdown]
# ### The related words, one row each
# *synonym*: another name of the same sense; *hypernym*: a more general sense (depth 1 = the
# parent, 2 = the grandparent); *hyponym*: a more specific kind; *attribute*: an adjective
# derived from the keyword's words or senses (metal → metallic); *gloss*: a content word of
# the definition (hexagonal, thread).

# %%
for w in expansion.words:
    print(f"{w.relation:<10} depth {w.depth}  {w.synset:<24} {w.word}")

# %% [markdown]
# ## 3 · Candidate prompts and CLIP similarity
#
# CLIP has two encoders trained together on image-caption pairs: one maps an image to a unit
# vector, the other a sentence, so that a caption and its image point the same way. Their
# **cosine similarity** (the dot product of the unit vectors, from -1 to 1) measures how well
# the sentence describes the image. With k shots we average their image vectors, and score
#
# $$ s(P) = \cos\big(E_{txt}(P),\ \tfrac{1}{k}\sum_k E_{img}(x_k)\big). $$
#
# The candidate with the highest score is the prompt p*. (With the `tiny` profile CLIP has
# random weights: the ranking below is a demonstration of the mechanics only.)

# %%
from tvig.prompting.ranking import format_ranking, select_prompt

clip = load_clip(prof, resolve_device(device))
selection = select_prompt(category, x, clip, keyword=entry, profile=prof, captions=True,
                          expansion=expansion)
print(f"{len(selection.ranking)} candidates; p* = {selection.prompt!r} (score {selection.score:.4f})")
print(format_ranking(selection.ranking, top))

# %%
fig = plot_ranking(selection.ranking, top, selection.comparison, random_weights=prof.random_weights,
                   title=f"{category}: best {top} of {len(selection.ranking)} prompts, then the comparison prompts")
plt.show()

# %% [markdown]
# ## 4 · Comparison prompts (the paper's preliminary experiment)
# Is the WordNet prompt better than the obvious ones? We score the bare keyword,
# "a photo of a {keyword}", and, when the BLIP captioning model is in the local Hugging Face
# cache, a caption of the shot written by BLIP. Offline without BLIP that row is skipped
# (the note says how to get it).

# %%
print(format_ranking(selection.comparison))
for note in selection.notes:
    print("note:", note)
best_baseline = max(r.score for r in selection.comparison)
print(f"p* beats the best comparison prompt by {selection.score - best_baseline:+.4f}")

# %% [markdown]
# ## 5 · Explore
# Pick another class, or type any keyword and press Enter: the candidates are rebuilt from
# WordNet and scored against the **same** shots. With real CLIP weights, a wrong class
# ("hazelnut" for a metal nut) scores visibly lower. (Needs a live kernel; in a static
# rendering you only see the first state.)

# %%
from tvig.prompting.explorer import prompt_explorer

display(prompt_explorer(clip, x, category=category, dataset=table, top=10, profile=prof))

# %% [markdown]
# ## 6 · Save p* for notebooks 02 and 03
# The selection (prompt, keyword, ranking, senses, profile) goes to the run folder's
# `prompt.json`, written atomically. Notebooks 02/03 read it with `tvig.prompting.ranking.load_prompt`
# and fall back to "a photo of a {keyword}" when it is missing.

# %%
path = selection.save(run.root)
print("saved", path)
print("p* =", selection.prompt)
