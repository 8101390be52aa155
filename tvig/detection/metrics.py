"""Detection metrics on the raw scores and maps of the whole test set, on any score scale.

Image AUROC, image AP, pixel AUROC and AUPRO are computed once, from every test image's raw
``pred_score`` / ``anomaly_map`` together: rank-based, no squashing, no per-batch decisions.
(anomalib 2.7's ``AUROC`` metric treats a batch with values outside [0, 1] as logits and
applies a sigmoid; raw PatchCore scores of ~20-35 then all saturate to 1.0 and the AUROC is
exactly 0.5. Any strictly increasing map of the scores leaves every number here unchanged.)

- image AUROC and AP: scikit-learn's ``roc_auc_score`` / ``average_precision_score``
  (ties count one half, as in the Mann-Whitney U statistic);
- pixel AUROC: the same over all pixels of all test images (defect pixels vs good ones);
- AUPRO: area under the per-region-overlap curve up to a global pixel FPR of 0.3, divided by
  0.3 (anomalib's ``AUPRO`` and the MVTec AD evaluation): regions are the 8-connected
  components of each ground-truth mask; at every threshold the PRO is the mean over regions of
  the covered fraction, the FPR that of all good pixels; the curve is cut at 0.3 by linear
  interpolation.

A test set without masks (``masks=None``) gives the image metrics and ``None`` for the pixel
ones, with a note; so do masks without a single defect pixel. A test set of one class (only
good or only defective images) has no AUROC: :class:`~tvig.errors.InputError` (tvig's
datasets already refuse such test splits). Non-finite scores: :class:`~tvig.errors.NumericsError`.

Example:
    >>> import numpy as np
    >>> scores, labels = np.array([25.1, 25.3, 27.0, 26.2]), np.array([0, 0, 1, 1])
    >>> image_auroc(scores, labels), image_auroc(scores * 700, labels)
    (1.0, 1.0)
    >>> masks = np.zeros((2, 4, 4), bool); masks[1, :2, :2] = True
    >>> maps = 10.0 * masks + 0.1 * np.arange(32).reshape(2, 4, 4)   # defects score higher
    >>> m = detection_metrics(np.array([0.2, 0.9]), np.array([0, 1]), maps, masks)
    >>> m.image_auroc, m.pixel_auroc, round(m.aupro, 4)
    (1.0, 1.0, 1.0)
    >>> detection_metrics(np.array([0.2, 0.9]), np.array([0, 1])).note
    'no ground-truth masks: image metrics only (pixel AUROC and AUPRO empty)'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from sklearn.metrics import average_precision_score, roc_auc_score

from tvig.errors import InputError, NumericsError

FPR_LIMIT = 0.3  # AUPRO's integration limit (MVTec AD, anomalib)
NO_MASKS = "no ground-truth masks: image metrics only (pixel AUROC and AUPRO empty)"
EMPTY_MASKS = "the masks hold no defect pixel: pixel AUROC and AUPRO empty"
_EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity, as anomalib (OpenCV) and MVTec AD


@dataclass(frozen=True)
class DetectionMetrics:
    """The four numbers of one test set; pixel ones ``None`` without (usable) masks."""

    image_auroc: float
    image_ap: float
    pixel_auroc: float | None
    aupro: float | None
    note: str = ""

    def row(self, digits: int = 6) -> dict[str, Any]:
        """The result-table columns (``None`` is written as an empty cell)."""
        r = lambda v: None if v is None else round(float(v), digits)  # noqa: E731
        return dict(image_auroc=r(self.image_auroc), image_ap=r(self.image_ap),
                    pixel_auroc=r(self.pixel_auroc), aupro=r(self.aupro))


def _finite(name: str, a: np.ndarray) -> np.ndarray:
    bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    if bad:
        raise NumericsError(f"{bad} non-finite {name} (NaN/Inf) of {a.size}; no metric is "
                            "defined on them")
    return a


def _binary(scores, labels, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Flat float64 scores and bool labels; both classes present, else InputError."""
    s = _finite(f"{what} scores", np.asarray(scores, dtype=np.float64).reshape(-1))
    y = np.asarray(labels).reshape(-1) > 0
    if s.shape != y.shape:
        raise InputError(f"{what}: {s.size} scores but {y.size} labels")
    n_pos = int(y.sum())
    if n_pos in (0, y.size):
        raise InputError(f"{what} AUROC needs both classes: got {y.size - n_pos} good and "
                         f"{n_pos} defective; add test images of the missing class")
    return s, y


def image_auroc(scores, labels) -> float:
    """Rank AUROC of image scores (N,) against labels (N,) (1 = defective)."""
    return float(roc_auc_score(*_binary(scores, labels, "image")[::-1]))


def image_ap(scores, labels) -> float:
    """Average precision (area under precision-recall, sklearn's step form) of image scores."""
    return float(average_precision_score(*_binary(scores, labels, "image")[::-1]))


def pixel_auroc(maps, masks) -> float:
    """Rank AUROC over every pixel of maps (N, H, W) against masks (N, H, W)."""
    return float(roc_auc_score(*_binary(maps, masks, "pixel")[::-1]))


def _squeeze(a, name: str) -> np.ndarray:
    """(N, H, W) from (N, H, W) or (N, 1, H, W)."""
    a = np.asarray(a)
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 3:
        raise InputError(f"{name} must be (N, H, W) or (N, 1, H, W), got shape {a.shape}")
    return a


def regions(masks) -> tuple[np.ndarray, int]:
    """(labels (N, H, W) int, n): 8-connected defect regions numbered 1..n across all images."""
    masks = _squeeze(masks, "masks") > 0
    out = np.zeros(masks.shape, dtype=np.int64)
    n = 0
    for i, m in enumerate(masks):
        lab, k = ndimage.label(m, structure=_EIGHT)
        out[i] = np.where(lab > 0, lab + n, 0)
        n += k
    return out, n


def pro_curve(maps, masks, fpr_limit: float = FPR_LIMIT) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, pro) from 0 up to ``fpr_limit`` (interpolated there), one point per distinct
    score, thresholds from the highest score down."""
    s, _ = _binary(_squeeze(maps, "maps"), _squeeze(masks, "masks"), "pixel")
    lab, n_regions = regions(masks)
    lab = lab.reshape(-1)
    good = lab == 0
    size = np.bincount(lab, minlength=n_regions + 1).astype(np.float64)
    weight = np.where(good, 0.0, 1.0 / size[lab])  # each region adds up to 1 when covered
    order = np.argsort(-s, kind="stable")
    fpr = np.cumsum(good[order]) / good.sum()
    pro = np.cumsum(weight[order]) / n_regions
    last = np.r_[s[order][:-1] != s[order][1:], True]  # a threshold takes all its ties
    fpr, pro = np.r_[0.0, fpr[last]], np.r_[0.0, np.minimum(pro[last], 1.0)]
    i = int(np.flatnonzero(fpr <= fpr_limit)[-1])
    if fpr[i] < fpr_limit:  # fpr ends at 1 > limit, so i + 1 exists
        t = (fpr_limit - fpr[i]) / (fpr[i + 1] - fpr[i])
        return np.r_[fpr[:i + 1], fpr_limit], np.r_[pro[:i + 1], pro[i] + t * (pro[i + 1] - pro[i])]
    return fpr[:i + 1], pro[:i + 1]


def aupro(maps, masks, fpr_limit: float = FPR_LIMIT) -> float:
    """Area under :func:`pro_curve` divided by ``fpr_limit`` (1 = every region found first)."""
    if not 0 < fpr_limit <= 1:
        raise InputError(f"fpr_limit must be in (0, 1], got {fpr_limit}")
    fpr, pro = pro_curve(maps, masks, fpr_limit)
    return float(np.sum(np.diff(fpr) * (pro[1:] + pro[:-1]) / 2) / fpr_limit)


def detection_metrics(scores, labels, maps=None, masks=None, *,
                      fpr_limit: float = FPR_LIMIT) -> DetectionMetrics:
    """All four metrics of a whole test set: scores/labels (N,), maps/masks (N, H, W).

    ``masks=None`` (a dataset without ground truth) or masks without any defect pixel give
    ``pixel_auroc = aupro = None`` and say so in ``note``.
    """
    s, y = _binary(scores, labels, "image")
    auroc, ap = float(roc_auc_score(y, s)), float(average_precision_score(y, s))
    if masks is None or maps is None:
        return DetectionMetrics(auroc, ap, None, None, NO_MASKS)
    maps, masks = _squeeze(maps, "maps"), _squeeze(masks, "masks")
    if maps.shape != masks.shape or len(maps) != len(s):
        raise InputError(f"maps {maps.shape}, masks {masks.shape} and {len(s)} scores do not "
                         "describe the same test images")
    if not (masks > 0).any():
        return DetectionMetrics(auroc, ap, None, None, EMPTY_MASKS)
    return DetectionMetrics(auroc, ap, pixel_auroc(maps, masks), aupro(maps, masks, fpr_limit))
