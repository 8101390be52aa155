"""The raw predictions of a fitted detector on the whole test set, for metrics and figures.

One ``engine.predict`` pass over the test split collects every image's raw ``pred_score``
(N,), ``anomaly_map`` (N, H, W), ``gt_label`` (N,) and ``gt_mask`` (N, H, W; ``None`` for a
dataset without masks). :meth:`Predictions.metrics` scores them all together
(:mod:`tvig.detection.metrics`); :meth:`Predictions.save` writes the ``maps.npz`` that
:mod:`tvig.plots.detection` draws.

Example:
    >>> import numpy as np
    >>> p = Predictions(["a.png", "b.png"], np.array([30.0, 34.0]), np.array([False, True]),
    ...                 np.zeros((2, 4, 4), np.float32), None, None)
    >>> p.metrics().image_auroc, p.metrics().pixel_auroc
    (1.0, None)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tvig import atomic
from tvig.detection.metrics import DetectionMetrics, detection_metrics


@dataclass(frozen=True)
class Predictions:
    image_path: list[str]
    pred_score: np.ndarray  # (N,) raw image scores
    gt_label: np.ndarray  # (N,) bool, True = defective
    anomaly_map: np.ndarray  # (N, H, W) float32, raw
    gt_mask: np.ndarray | None  # (N, H, W) bool; None: the dataset has no masks
    pred_mask: np.ndarray | None  # (N, H, W) bool, the detector's own threshold (figures)

    def metrics(self) -> DetectionMetrics:
        return detection_metrics(self.pred_score, self.gt_label, self.anomaly_map, self.gt_mask)

    def save(self, path: "str | os.PathLike[str]") -> Path:
        """``maps.npz`` (raw float32 maps: any score scale survives); absent masks omitted."""
        arrays = dict(image_path=np.array(self.image_path), anomaly_map=self.anomaly_map,
                      pred_score=self.pred_score, gt_label=self.gt_label)
        for name in ("gt_mask", "pred_mask"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        with atomic.atomic_open(path, "wb") as f:
            np.savez_compressed(f, **arrays)
        return Path(path)


def _stack(batches, field: str) -> np.ndarray | None:
    """One field of every batch, concatenated; None when any batch lacks it."""
    parts = [getattr(b, field, None) for b in batches]
    if not parts or any(p is None for p in parts):
        return None
    return np.concatenate([p.detach().float().cpu().numpy() for p in parts])


def _maps(a: np.ndarray) -> np.ndarray:
    return a[:, 0] if a.ndim == 4 else a  # (N, 1, H, W) -> (N, H, W)


def predict_test_set(engine, model, datamodule) -> Predictions:
    """Predict ``datamodule``'s whole test split with the fitted ``model`` (raw scores)."""
    # with the datamodule (its predict split is the test split), anomalib can first run the
    # validation it needs for thresholds of models that do not train (WinCLIP)
    batches = engine.predict(model=model, datamodule=datamodule, return_predictions=True)
    amap = _maps(_stack(batches, "anomaly_map")).astype(np.float32)
    score = _stack(batches, "pred_score")
    score = amap.reshape(len(amap), -1).max(1) if score is None else score.reshape(-1)
    masks, pred = _stack(batches, "gt_mask"), _stack(batches, "pred_mask")
    return Predictions(
        image_path=[str(p) for b in batches for p in b.image_path],
        pred_score=score, gt_label=_stack(batches, "gt_label").reshape(-1) > 0,
        anomaly_map=amap, gt_mask=None if masks is None else _maps(masks) > 0,
        pred_mask=None if pred is None else _maps(pred) > 0)
