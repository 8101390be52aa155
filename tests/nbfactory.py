"""Small dummy notebook pairs (jupytext .py + clean .ipynb) for the runner, check and docs tests.

``write_chain(folder)`` writes four notebooks that imitate the real chain's hand-over files
(prompt.json, generated/manifest.csv, detection/results.csv) and record the parameters they got.
"""
from __future__ import annotations

from pathlib import Path

import jupytext

from tvig.tutorial.setup_cell import colab_setup_cell


def write_pair(folder: Path, stem: str, body: str, params: str | None, *, setup: bool = True) -> Path:
    """Write ``stem.py`` (percent format) and its clean ``stem.ipynb``; returns the .ipynb path."""
    parts = [f"# %% [markdown]\n# # {stem}\n# A dummy notebook for tests.\n"]
    if setup:
        parts.append("# %%\n" + colab_setup_cell() + "\n")
    if params is not None:
        parts.append('# %% tags=["parameters"]\n' + params.strip() + "\n")
    parts.append("# %%\n" + body.strip() + "\n")
    folder.mkdir(parents=True, exist_ok=True)
    py = folder / f"{stem}.py"
    py.write_text("\n".join(parts))
    nb = jupytext.read(py)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, folder / f"{stem}.ipynb", fmt="ipynb")
    return folder / f"{stem}.ipynb"


_RECORD = """
import json, pathlib
run = pathlib.Path(out_dir); run.mkdir(parents=True, exist_ok=True)
(run / "params-{stem}.json").write_text(json.dumps({{k: v for k, v in dict(globals()).items()
    if k in {names!r}}}))
"""

_PARAMS = """
profile = "paper"
data_root = None  # None = embedded sample data (an '=' in a comment: papermill's regex drops it)
category = "nothing"
shots = 99
seed = 123
out_dir = None
"""


def write_chain(folder: Path) -> Path:
    """Four dummy notebooks 01..04; 02 fails when ``category == fail_on``; 03 declares no shots."""
    names = ["profile", "data_root", "category", "shots", "seed", "out_dir", "fail_on"]
    rec = lambda stem: _RECORD.format(stem=stem, names=names)  # noqa: E731
    write_pair(folder, "01_dummy_prompt", rec("01") + """
import os
assert os.path.isdir(os.path.join(data_root, category, "train", "good")), data_root
(run / "prompt.json").write_text(json.dumps({"prompt": f"a photo of a {category}", "keyword": category}))
""", _PARAMS)
    write_pair(folder, "02_dummy_latent", rec("02") + """
prompt = json.loads((run / "prompt.json").read_text())["prompt"]
if category == fail_on:
    raise RuntimeError(f"boom for {category}")
(run / "latent.txt").write_text(prompt)
""", _PARAMS + 'fail_on = ""\n')
    write_pair(folder, "03_dummy_generate", rec("03") + """
g = run / "generated"; g.mkdir(exist_ok=True)
(g / "manifest.csv").write_text("file,round\\na.png,1\\nb.png,1\\nc.png,2\\n")
""", _PARAMS.replace("shots = 99\n", ""))
    write_pair(folder, "04_dummy_detect", rec("04") + """
import matplotlib.pyplot as plt
d = run / "detection"; d.mkdir(exist_ok=True)
(d / "results.csv").write_text("train_set,seed,image_auroc\\nreal,0,0.5\\nreal,1,0.7\\ngenerated,0,0.75\\n")
fig, ax = plt.subplots(figsize=(2, 2)); ax.plot([0, 1], [0, 1]); plt.show()
""", _PARAMS)
    return folder
