"""The cheap path, selected: images beyond the rounds' kept ones come from a larger pool.

When the set needs ``n`` images and the rounds kept R*m, the other ``need = n - R*m`` are
**drawn from the learned mixture** (the last round's mu, sigma per shot; draw j uses component
``j mod k`` and its own seed ``derive_seed(seed, "pool", j)``), decoded without optimisation
(one decoder pass instead of ``steps`` CLIP+VQGAN passes), scored with the rounds' own score,
and only the best ``need`` of ``oversample * need`` draws are kept. With the ablation
``profile.raw_draws`` the pool is exactly ``need`` draws and every one is taken unselected
(path ``raw``): the only way an unfiltered draw reaches a training set.

The selection is saved in the run's state folder, so a resumed run writes the same set.

Example:
    >>> pool_size(need=8, oversample=4, raw=False), pool_size(need=8, oversample=4, raw=True)
    (32, 8)
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from tvig import atomic
from tvig.generator.distribution import components, draw_images
from tvig.images import to_uint8
from tvig.integrator.rounds import (
    IntegrationResult,
    IntegratorConfig,
    derive_seed,
    score_images,
)
from tvig.integrator.scoring import Scores, top_m
from tvig.profiles import Profile
from tvig.speed import SpeedConfig

POOLED, RAW = "pooled", "raw"  # manifest ``source`` of the two paths


def pool_size(*, need: int, oversample: int, raw: bool) -> int:
    """How many draws the pool holds for ``need`` images."""
    return need if raw else need * oversample


@dataclass
class PoolSelection:
    """The pool's draws and which of them enter the set (``order``, best first)."""

    path: str  # POOLED or RAW
    seeds: torch.Tensor  # (P,) one seed per draw
    components: torch.Tensor  # (P,) component (shot) of each draw
    scores: Scores  # (P,) every draw's score terms
    order: torch.Tensor  # (need,) indices of the selected draws, best first (RAW: 0..need-1)
    images: torch.Tensor  # (need, 3, H, W) uint8 of the selected draws, in ``order``

    @property
    def size(self) -> int:
        return int(self.seeds.shape[0])

    def written(self) -> torch.Tensor:
        """(P,) bool: which draws enter the set."""
        w = torch.zeros(self.size, dtype=torch.bool)
        w[self.order] = True
        return w

    def save(self, path: "str | Path") -> None:
        buf = io.BytesIO()
        d = dataclasses.asdict(self)
        d["scores"] = dataclasses.asdict(self.scores)
        torch.save(d, buf)
        atomic.write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: "str | Path") -> "PoolSelection":
        d = torch.load(path, map_location="cpu", weights_only=False)
        d["scores"] = Scores(**d["scores"])
        return cls(**d)


def select_from_pool(vqgan, clip, result: IntegrationResult, *, need: int, profile: Profile,
                     seed: int, text_emb: torch.Tensor, shot_emb: torch.Tensor,
                     config: IntegratorConfig, speed: SpeedConfig | None = None,
                     chunk: int | None = None, state_path: "str | Path | None" = None,
                     progress: bool = True) -> PoolSelection:
    """Draw the pool from ``result.dist``, score every draw, keep the best ``need``.

    ``state_path``: load the selection from there if present, else save it there.
    """
    if state_path is not None and Path(state_path).is_file():
        return PoolSelection.load(state_path)
    raw = profile.raw_draws
    size = pool_size(need=need, oversample=profile.oversample, raw=raw)
    seeds = torch.tensor([derive_seed(seed, "pool", j) for j in range(size)])
    comps = components(size, result.dist.k)
    chunk = chunk or config.candidates
    imgs, parts = [], []
    for start in tqdm(range(0, size, chunk), desc="pool", unit="batch", disable=not progress,
                      leave=False):
        sl = slice(start, start + chunk)
        x8 = to_uint8(draw_images(vqgan, result.dist, seeds[sl].tolist(), comps[sl],
                                  speed=speed))  # score exactly what will be saved
        s, _ = score_images(vqgan, clip, x8.float() / 255.0, text_emb=text_emb,
                            shot_emb=shot_emb, dist0=result.dist0, comp=comps[sl],
                            config=config, speed=speed)
        imgs.append(x8)
        parts.append(s)
    scores = Scores.cat(parts)
    order = torch.arange(need) if raw else top_m(scores.total, need)
    sel = PoolSelection(RAW if raw else POOLED, seeds, comps, scores, order,
                        torch.cat(imgs)[order])
    if state_path is not None:
        sel.save(state_path)
    return sel
