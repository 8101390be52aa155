"""Quality report of a generated set: similarity to the shots, diversity, and a contact sheet.

The paper's Fig. 2 finds the detection gain grows with two factors, which we measure in CLIP space:
  * **similarity**: mean cosine between a generated image's CLIP embedding and each real shot's
    (per image, and the mean over the set);
  * **diversity**: mean pairwise CLIP-embedding distance ``1 - cos`` between the generated
    images (the paper's "visual variance"); the same number for the shots is the reference.
Both come from :mod:`tvig.generator.metrics` (the generator's metric functions), so the numbers here and in
notebook 02 mean the same thing.

Written into the output folder: ``report.json`` (means, settings), ``report.csv`` (one row per
image) and ``contact_sheet.png`` (shots on top, generated images below).

Example:
    >>> from tvig.integrator.report import quality_report, write_report            # doctest: +SKIP
    >>> rep = quality_report(generated, shots, clip, files=names)       # doctest: +SKIP
    >>> write_report(out, rep, shots, generated)                        # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from PIL import Image, ImageDraw

from tvig import atomic
from tvig.generator.metrics import diversity, similarity
from tvig.images import tensor_to_pil
from tvig.models.clip import embed_images

REPORT_JSON, REPORT_CSV, CONTACT_SHEET = "report.json", "report.csv", "contact_sheet.png"


@dataclass
class QualityReport:
    """Similarity per image (n,), its mean, and the set's diversity."""

    files: list[str]
    similarity: list[float]  # mean_k cos(E_img(x_i), E_img(shot_k)) per generated image
    mean_similarity: float
    diversity: float  # mean over pairs of 1 - cos between generated images' CLIP embeddings
    shots_diversity: float  # the same measure on the real shots (reference; nan for 1 shot)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def num(v: float) -> float | None:  # JSON has no NaN: "not measurable" is null
            return None if math.isnan(v) else v

        return {"n_images": len(self.files), "mean_similarity": num(self.mean_similarity),
                "diversity": num(self.diversity), "shots_diversity": num(self.shots_diversity),
                "notes": self.notes}

    def rows(self) -> list[dict[str, Any]]:
        return [{"file": f, "similarity": s} for f, s in zip(self.files, self.similarity)]


def _grid(x: torch.Tensor, cols: int, tile: int, pad: int) -> Image.Image:
    """(B, 3, H, W) in [0, 1] -> one PIL image, ``cols`` tiles per row, each ``tile`` px."""
    from torchvision.utils import make_grid  # heavy: only for image grids

    x = torch.nn.functional.interpolate(x.float().clamp(0, 1), size=(tile, tile), mode="bilinear",
                                        align_corners=False, antialias=x.shape[-1] > tile)
    return tensor_to_pil(make_grid(x, nrow=cols, padding=pad, pad_value=1.0))


def contact_sheet(shots: torch.Tensor, generated: torch.Tensor, *, tile: int = 96,
                  cols: int = 8, max_generated: int = 64, title: str = "",
                  banner: str | None = None) -> Image.Image:
    """Shots (k, 3, H, W) on top, generated (n, 3, H, W) below, with headings. Returns a PIL image.

    Shows at most ``max_generated`` generated images (the heading says how many were left out).
    ``banner``: a line printed in red on top (e.g. the random-weights warning).
    """
    pad, line = 2, 14
    cols = max(1, min(cols, max(len(shots), min(len(generated), max_generated), 1)))
    shown = generated[:max_generated]
    blocks = [(f"real shots ({len(shots)})", _grid(shots, cols, tile, pad))]
    head = f"generated ({len(generated)}"
    head += f", first {len(shown)} shown)" if len(shown) < len(generated) else ")"
    if len(shown):
        blocks.append((head, _grid(shown, cols, tile, pad)))
    width = max(b.width for _, b in blocks)
    chars = max(8, (width - 8) // 6)  # PIL's default font is about 6 px a character
    texts = [(part, t is banner) for t in (banner, title) if t
             for part in textwrap.wrap(t, chars)]
    height = line * len(texts) + sum(line + b.height for _, b in blocks) + 4
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = 2
    for part, red in texts:
        draw.text((4, y), part, fill=(200, 0, 0) if red else (0, 0, 0))
        y += line
    for heading, img in blocks:
        draw.text((4, y), heading, fill=(0, 0, 0))
        y += line
        sheet.paste(img, (0, y))
        y += img.height
    return sheet


@torch.no_grad()
def quality_report(generated: torch.Tensor, shots: torch.Tensor, clip, *,
                   files: Sequence[str] | None = None, batch_size: int = 32) -> QualityReport:
    """CLIP similarity of each generated image to the shots, and the set's diversity.

    generated (n, 3, H, W), shots (k, 3, H, W), floats in [0, 1].
    """

    g = embed_images(clip, generated, batch_size=batch_size)  # (n, D)
    s = embed_images(clip, shots, batch_size=batch_size)  # (k, D)
    sim = [similarity(g[i:i + 1], s) for i in range(len(g))]  # per image, mean over shots
    notes = []
    if len(generated) < 2:
        notes.append("diversity needs at least 2 generated images")
    if len(shots) < 2:
        notes.append("shots_diversity needs at least 2 shots")
    div = diversity(g) if len(generated) > 1 else math.nan
    sdiv = diversity(s) if len(shots) > 1 else math.nan
    names = list(files) if files is not None else [f"#{i}" for i in range(len(generated))]
    return QualityReport(files=names, similarity=sim, mean_similarity=similarity(g, s),
                         diversity=div, shots_diversity=sdiv, notes=notes)


def write_report(out: "str | Path", report: QualityReport, shots: torch.Tensor,
                 generated: torch.Tensor, *, meta: dict[str, Any] | None = None,
                 banner: str | None = None) -> dict[str, Path]:
    """Write report.json, report.csv and contact_sheet.png into ``out`` (atomically)."""
    out = Path(out)
    paths = {"json": out / REPORT_JSON, "csv": out / REPORT_CSV, "sheet": out / CONTACT_SHEET}
    atomic.write_json(paths["json"], {**report.summary(), **(meta or {})})
    atomic.write_csv(paths["csv"], report.rows(), ["file", "similarity"])
    title = (f"mean similarity to shots {report.mean_similarity:.3f}   "
             f"diversity {report.diversity:.3f}")
    sheet = contact_sheet(shots, generated, title=title, banner=banner)
    png = io.BytesIO()
    sheet.save(png, format="PNG")
    atomic.write_bytes(paths["sheet"], png.getvalue())
    return paths
