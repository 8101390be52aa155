"""An ipywidgets explorer for notebook 01: pick a class or type a keyword, see the ranking.

The shots stay fixed (the images you loaded); the keyword changes. With real CLIP weights a
wrong class name scores visibly lower against the same images. Built here so the notebook only
displays it; with no frontend (papermill) it is created and updated without error.

Example:
    >>> box = prompt_explorer(clip, shots, category="metal_nut")   # doctest: +SKIP
    >>> display(box)                                                # doctest: +SKIP
"""

from __future__ import annotations

import warnings

import torch

from tvig.plots.prompting import plot_ranking
from tvig.prompting.keywords import (
    all_categories,
    resolve_keyword,
)
from tvig.prompting.ranking import format_ranking, select_prompt
from tvig.tutorial.widgets import show_in


def explore_once(clip, shots: torch.Tensor, choice: str, typed: str = "", top: int = 10,
                 profile=None):
    """The selection for a dropdown value ``dataset/class`` or, if given, a typed keyword."""
    dataset, _, category = choice.partition("/")
    entry = resolve_keyword(category, dataset, keyword=typed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the notes carry the same text
        return select_prompt(category, shots, clip, keyword=entry, profile=profile,
                             captions=False)


def prompt_explorer(clip, shots: torch.Tensor, category: str = "metal_nut",
                    dataset: str | None = None, top: int = 10, profile=None):
    """A VBox: class dropdown + keyword box + output (bar chart and table), updated on change."""
    import ipywidgets as W  # heavy: widgets only inside a notebook

    options = [f"{d}/{c}" for d, c in all_categories()]
    first = next((o for o in options if o.endswith("/" + category) and
                  (dataset is None or o.startswith(dataset + "/"))), options[0])
    dropdown = W.Dropdown(options=options, value=first, description="class")
    typed = W.Text(value="", placeholder="or type a keyword + Enter", description="keyword",
                   continuous_update=False)
    out = W.Output()
    random = bool(getattr(profile, "random_weights", False))

    def update(*_):
        sel = explore_once(clip, shots, dropdown.value, typed.value, top, profile)
        fig = plot_ranking(sel.ranking, top, sel.comparison, random_weights=random,
                           title=f"{dropdown.value}: {sel.keyword}")
        lines = [f"keyword {sel.keyword!r}, sense {', '.join(sel.expansion.chosen) or '-'}: "
                 f"{len(sel.ranking)} candidates; p* = {sel.prompt!r}"]
        lines += [f"note: {n}" for n in sel.notes]
        show_in(out, fig, "\n".join(lines), dpi=80)  # no `with out:` capture: see tvig.tutorial.widgets
        out.append_stdout(format_ranking(sel.ranking, top) + "\n")
        box.selection = sel
        return sel

    def on_class(_):
        if typed.value:
            typed.value = ""  # a picked class replaces a typed keyword (this triggers update)
        else:
            update()

    dropdown.observe(on_class, names="value")
    typed.observe(update, names="value")
    box = W.VBox([W.HBox([dropdown, typed]), out])
    box.update = update  # so a notebook (or a test) can trigger it; box.selection: the last
    update()
    return box
