"""Contact sheet and integrator plots on hand-made tensors (no models)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import torch

from tvig.integrator.report import contact_sheet
from tvig.integrator.rounds import RoundRecord
from tvig.integrator.scoring import Scores


def test_contact_sheet_layout_and_pixels():
    shots = torch.zeros(2, 3, 32, 32)
    shots[:, 0] = 1.0  # red shots
    gen = torch.zeros(5, 3, 16, 16)
    gen[:, 2] = 1.0  # blue generated
    sheet = contact_sheet(shots, gen, tile=20, cols=4, title="t", banner="RANDOM WEIGHTS")
    assert sheet.mode == "RGB" and sheet.width == 4 * 22 + 2
    px = [sheet.getpixel((x, y)) for y in range(sheet.height) for x in range(sheet.width)]
    assert px.count((255, 0, 0)) == 2 * 20 * 20  # both shots, at tile size
    assert px.count((0, 0, 255)) == 5 * 20 * 20  # all five generated images
    capped = contact_sheet(shots, gen, tile=20, cols=4, max_generated=2)
    cpx = [capped.getpixel((x, y)) for y in range(capped.height) for x in range(capped.width)]
    assert cpx.count((0, 0, 255)) == 2 * 20 * 20


def _record(r: int, n: int = 4, m: int = 2) -> RoundRecord:
    g = torch.Generator().manual_seed(r)
    s = Scores(*(torch.rand(n, generator=g) for _ in range(3)), total=torch.rand(n, generator=g))
    order = torch.argsort(-s.total)[:m]
    kept = torch.zeros(n, dtype=torch.bool)
    kept[order] = True
    return RoundRecord(round=r, seed=r, candidates=torch.randint(0, 255, (n, 3, 8, 8), dtype=torch.uint8,
                                                                 generator=g),
                       scores=s, kept=kept, order=order, z=torch.randn(n, 2, 2, 2, generator=g),
                       mu=torch.full((2, 2, 2), 0.1 * r), sigma=torch.full((2, 2, 2), 1.0 + r))


def test_integration_plots_and_browser():
    from tvig.plots.integration import (
        drift_table,
        latent_drift,
        round_browser,
        round_gallery,
        score_terms_over_rounds,
    )

    recs = [_record(1), _record(2)]
    fig = round_gallery(recs[0], banner="RANDOM")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert sum(t.split("\n")[0].endswith("kept #1") for t in titles) == 1
    assert sum("dropped" in t for t in titles) == 2
    assert len(score_terms_over_rounds(recs).axes) == 4
    rows = drift_table(recs, torch.zeros(2, 2, 2), torch.ones(2, 2, 2))
    assert [round(r["mean_shift"], 3) for r in rows] == [0.0, 0.1, 0.2]
    assert [r["sigma_ratio"] for r in rows] == [1.0, 2.0, 3.0]
    assert len(latent_drift(recs, torch.zeros(2, 2, 2), torch.ones(2, 2, 2)).axes) == 3
    w = round_browser(recs)
    slider = w.children[0]
    assert (slider.min, slider.max) == (1, 2)
    slider.value = 2  # redraws without a frontend
