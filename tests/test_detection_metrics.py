"""Detection metrics on any score scale (issue 19): sklearn references, hand-computed AUPRO,
order and batching, masks absent, and a detector whose raw scores are 100x larger."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from tvig import atomic
from tvig.detection.config import DetectionConfig
from tvig.detection.grid import summarise
from tvig.detection.metrics import (
    NO_MASKS,
    aupro,
    detection_metrics,
    image_ap,
    image_auroc,
    pixel_auroc,
    pro_curve,
    regions,
)
from tvig.detection.predictions import predict_test_set
from tvig.errors import InputError, NumericsError

SCALES = (1e-3, 1.0, 25.0, 700.0)
PKG = Path(__file__).resolve().parents[1] / "tvig"


def _test_set(seed: int = 0, n: int = 40, side: int = 16):
    """Scores with ties, labels, maps and masks with several regions per defective image."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3 == 0
    scores = np.round(rng.normal(size=n) + 0.8 * labels, 1)  # rounded: ties
    masks = np.zeros((n, side, side), bool)
    for i in np.flatnonzero(labels):
        for _ in range(rng.integers(1, 4)):
            y, x = rng.integers(0, side - 4, 2)
            masks[i, y:y + rng.integers(1, 5), x:x + rng.integers(1, 5)] = True
    maps = np.round(rng.normal(size=masks.shape) + 1.5 * masks, 2).astype(np.float32)
    return scores, labels, maps, masks


@pytest.mark.parametrize("scale", SCALES)
def test_metrics_equal_sklearn_and_do_not_depend_on_the_scale(scale):
    scores, labels, maps, masks = _test_set()
    # the scores of a pretrained PatchCore sit around 20-35: shift them there too
    s, m = 20.0 + scale * scores, 20.0 + scale * maps.astype(np.float64)
    assert image_auroc(s, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert image_ap(s, labels) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert pixel_auroc(m, masks) == pytest.approx(
        roc_auc_score(masks.reshape(-1), maps.reshape(-1)), abs=1e-12)
    assert aupro(m, masks) == pytest.approx(aupro(maps, masks), abs=1e-12)
    assert 0.6 < image_auroc(s, labels) < 0.95  # a real ranking, not 0.5 from saturated ties


def test_shuffled_order_gives_the_same_metrics():
    scores, labels, maps, masks = _test_set(1)
    ref = detection_metrics(scores, labels, maps, masks)
    for seed in range(3):
        p = np.random.default_rng(seed).permutation(len(scores))
        got = detection_metrics(scores[p], labels[p], maps[p], masks[p])
        # ranks are order-free; only AUPRO's float sums within a tie may differ in the last bit
        assert got.row(12) == pytest.approx(ref.row(12), abs=1e-12)


def _fake_batches(scores, labels, maps, masks, batch_size: int):
    for i in range(0, len(scores), batch_size):
        sl = slice(i, i + batch_size)
        yield SimpleNamespace(
            image_path=[f"{j}.png" for j in range(i, i + len(scores[sl]))],
            pred_score=torch.tensor(scores[sl], dtype=torch.float32),
            gt_label=torch.tensor(labels[sl]), anomaly_map=torch.tensor(maps[sl])[:, None],
            gt_mask=None if masks is None else torch.tensor(masks[sl]),
            pred_mask=torch.tensor(maps[sl] > 1))


class _Engine:
    """engine.predict returning the test set in batches of ``batch_size``."""

    def __init__(self, *arrays, batch_size: int):
        self.arrays, self.batch_size = arrays, batch_size

    def predict(self, model, datamodule, return_predictions):
        assert return_predictions and datamodule.test_dataloader() == "test loader"
        return list(_fake_batches(*self.arrays, self.batch_size))


@pytest.mark.parametrize("scale", SCALES)
def test_batching_does_not_change_the_metrics(scale):
    """One decision for the whole test set: batches straddling 1.0 mix no scales."""
    scores, labels, maps, masks = _test_set(2)
    scores, maps = scale * scores, scale * maps  # e.g. 25: some batches > 1, some < 1
    dm = SimpleNamespace(test_dataloader=lambda: "test loader")
    ref = detection_metrics(scores.astype(np.float32), labels, maps, masks)
    for bs in (1, 3, 7, 40):
        preds = predict_test_set(_Engine(scores, labels, maps, masks, batch_size=bs), None, dm)
        assert preds.anomaly_map.shape == maps.shape and preds.gt_mask.dtype == bool
        assert preds.metrics() == ref


def test_aupro_hand_computed_two_regions():
    # image 0 good; image 1: region A = pixel 0 (size 1), region B = pixels 2-3 (size 2)
    maps = np.array([[[0.10, 0.20, 0.30, 0.35, 0.45]], [[0.90, 0.15, 0.80, 0.33, 0.25]]])
    masks = np.array([[[0, 0, 0, 0, 0]], [[1, 0, 1, 1, 0]]], bool)
    assert regions(masks)[1] == 2
    # descending: .90 A -> PRO 1/2; .80 B -> 3/4; .45 bg -> FPR 1/7; .35 bg -> 2/7;
    # .33 B -> PRO 1; cut at 0.3 inside the flat part: area 3/4 * 2/7 + 1 * (0.3 - 2/7)
    fpr, pro = pro_curve(maps, masks)
    assert fpr[-1] == pytest.approx(0.3) and pro[-1] == pytest.approx(1.0)
    assert aupro(maps, masks) == pytest.approx((3 / 4 * 2 / 7 + (0.3 - 2 / 7)) / 0.3)  # 16/21


def test_aupro_hand_computed_tie_and_cut_inside_a_rising_segment():
    # 7 background pixels; the defect pixel ties with a background one at 3.0
    maps = np.array([[[4.0, 3.0, 2.0, 1.0]], [[3.0, 0.0, 0.0, 0.0]]])
    masks = np.array([[[0, 0, 0, 0]], [[1, 0, 0, 0]]], bool)
    # (0,0) -> 4.0: (1/7, 0) -> tie 3.0: (2/7, 1) diagonal -> cut at 0.3: area 1/14 + 1/70
    assert aupro(maps, masks) == pytest.approx((1 / 14 + 1 / 70) / 0.3)  # 2/7
    # cut at 0.2, inside the diagonal: PRO there 0.4, area 1/2 * (0.2 - 1/7) * 0.4
    assert aupro(maps, masks, fpr_limit=0.2) == pytest.approx(0.5 * (0.2 - 1 / 7) * 0.4 / 0.2)
    # 8-connectivity: diagonal neighbours are one region
    assert regions(np.array([[[1, 0], [0, 1]]], bool))[1] == 1


def test_aupro_matches_anomalib_normalisation():
    from anomalib.metrics.aupro import _AUPRO

    for seed in range(3):
        _, _, maps, masks = _test_set(seed)
        ref = _AUPRO(fpr_limit=0.3)
        ref.update(torch.from_numpy(maps), torch.from_numpy(masks.astype(np.int64)))
        assert aupro(maps, masks) == pytest.approx(float(ref.compute()), abs=1e-6)


def test_no_masks_gives_image_metrics_only(tmp_path):
    scores, labels, maps, _ = _test_set(3)
    m = detection_metrics(scores, labels, maps, None)
    assert m.pixel_auroc is None and m.aupro is None and m.note == NO_MASKS
    assert m.image_auroc == pytest.approx(roc_auc_score(labels, scores))
    empty = detection_metrics(scores, labels, maps, np.zeros(maps.shape, bool))
    assert empty.pixel_auroc is None and "no defect pixel" in empty.note
    # the row writes empty cells and the summary reads them as missing
    row = dict(dataset="d", category="c", model="m", k="1", seed=0, train_set="real",
               pretrained=False, seconds=1, n_train=1, n_generated=0, **m.row())
    atomic.append_csv_rows(tmp_path / "r.csv", [row])
    assert atomic.read_csv(tmp_path / "r.csv")[0]["aupro"] == ""
    s = summarise(tmp_path / "r.csv")
    assert np.isnan(s["aupro_mean"][0]) and s["image_auroc_mean"][0] == m.row()["image_auroc"]
    # predictions without gt_mask: saved without it
    dm = SimpleNamespace(test_dataloader=lambda: "test loader")
    preds = predict_test_set(_Engine(scores, labels, maps, None, batch_size=8), None, dm)
    assert preds.gt_mask is None and preds.metrics() == m
    with np.load(preds.save(tmp_path / "maps.npz")) as z:
        assert "gt_mask" not in z.files and z["anomaly_map"].dtype == np.float32


def test_one_class_or_non_finite_is_a_clear_error():
    with pytest.raises(InputError, match="needs both classes: got 3 good and 0 defective"):
        image_auroc([0.1, 0.2, 0.3], [0, 0, 0])
    with pytest.raises(NumericsError, match="1 non-finite image scores"):
        detection_metrics([0.1, np.nan, 0.3], [0, 1, 1])
    with pytest.raises(InputError, match="same test images"):
        detection_metrics([0.1, 0.2], [0, 1], np.zeros((2, 4, 4)), np.zeros((2, 4, 5)))


def test_no_metric_goes_through_anomalib():
    """anomalib's AUROC/AUPRO squash raw scores per batch: tvig must not compute with them."""
    bad = [f"{p.relative_to(PKG.parent)}:{i}" for p in PKG.rglob("*.py")
           for i, line in enumerate(p.read_text().splitlines(), 1)
           if re.search(r"anomalib\.metrics|\b(AUROC|AUPRO|Evaluator)\(|evaluator=(?!False)", line)]
    assert not bad, bad


def _scaled_build(factor: float):
    """build_detector whose torch model returns ``factor`` x its raw scores and maps."""
    import tvig.detection.run as R

    build = R.build_detector

    def wrapped(*a, **kw):
        detector, info = build(*a, **kw)
        forward = detector.model.forward

        def scaled(*x, **k):
            out = forward(*x, **k)
            if hasattr(out, "pred_score") and hasattr(out, "_replace"):  # an InferenceBatch
                out = out._replace(pred_score=out.pred_score * factor,
                                   anomaly_map=out.anomaly_map * factor)
            return out

        detector.model.forward = scaled
        return detector, info

    return wrapped


def test_detector_scores_x100_give_the_same_metrics(sample_root, tmp_path, monkeypatch):
    import tvig.detection.run as R

    cfg = DetectionConfig(image_size=64, keep_maps=True, pretrained=False)
    kw = dict(out_dir=tmp_path, dataset="sample")
    base = R.run_detection(cfg, sample_root, "brick", 1, 0, "patchcore_r18", "real", **kw)
    maps1 = next(tmp_path.rglob("maps.npz"))
    with np.load(maps1) as z:
        raw1 = z["pred_score"]
    maps1.rename(tmp_path / "unscaled.npz")
    monkeypatch.setattr(R, "build_detector", _scaled_build(100.0))
    big = R.run_detection(cfg, sample_root, "brick", 1, 0, "patchcore_r18", "real", **kw)
    with np.load(next(tmp_path.rglob("maps.npz"))) as z:
        raw100, labels = z["pred_score"], z["gt_label"]
    assert raw100.min() > 17  # float32 sigmoid of these is exactly 1.0: a squash reads 0.5
    np.testing.assert_allclose(raw100, 100 * raw1, rtol=1e-5)
    for m in ("image_auroc", "image_ap", "pixel_auroc", "aupro"):
        assert big[m] == pytest.approx(base[m], abs=1e-6), m
    assert big["image_auroc"] == pytest.approx(roc_auc_score(labels, raw100), abs=1e-6)
    assert big["image_auroc"] != 0.5


def test_detector_run_on_a_class_without_masks(sample_root, tmp_path, monkeypatch):
    """anomalib's Folder without mask dirs gives no gt_mask: image metrics, empty pixel cells."""
    import matplotlib

    from tvig.detection import datasets
    from tvig.detection.run import run_detection
    from tvig.plots.detection import load_maps, plot_qualitative

    matplotlib.use("Agg")
    monkeypatch.setattr(datasets.ClassLayout, "mask_dirs", property(lambda self: []))
    notes = []
    row = run_detection(DetectionConfig(image_size=64, keep_maps=True), sample_root, "brick", 1,
                        0, "patchcore_r18", "real", out_dir=tmp_path, dataset="sample",
                        log=notes.append)
    assert row["pixel_auroc"] is None and row["aupro"] is None and 0 <= row["image_auroc"] <= 1
    assert any(NO_MASKS in n for n in notes)
    cells = atomic.read_csv(tmp_path / "results.csv")[0]
    assert cells["pixel_auroc"] == cells["aupro"] == "" and cells["image_ap"]
    maps = load_maps(next(tmp_path.rglob("maps.npz")))
    assert "gt_mask" not in maps
    assert len(plot_qualitative([("baseline", maps)], n=2).axes) == 2 * 5
