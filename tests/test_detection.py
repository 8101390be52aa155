"""Detectors, one detection run, the resumable grid, summaries and figures."""
import shutil

import matplotlib
import pytest

from tvig import atomic
from tvig.detection.config import DetectionConfig
from tvig.detection.detectors import (
    DETECTORS,
    build_detector,
    get_detector,
    resolve_pretrained,
)
from tvig.detection.grid import GridSpec, gains, run_grid, summarise
from tvig.detection.run import run_detection
from tvig.errors import AssetMissingError, InputError

matplotlib.use("Agg")
METRICS = ("image_auroc", "pixel_auroc", "aupro")


@pytest.fixture
def no_training(monkeypatch):
    """Any attempt to train fails the test: bad inputs must be rejected before."""
    from anomalib.engine import Engine

    def boom(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(Engine, "fit", boom)


def test_patchcore_r18_fits_and_tests(sample_root, tmp_path):
    cfg = DetectionConfig(image_size=64, keep_maps=True)
    row = run_detection(cfg, sample_root, "metal_nut", 2, 0, "patchcore_r18", "real",
                        out_dir=tmp_path, dataset="sample")
    assert all(0.0 <= row[m] <= 1.0 for m in METRICS)
    assert row["pretrained"] is False and row["n_train"] == 2 and row["backbone"] == "resnet18"
    rows = atomic.read_csv(tmp_path / "results.csv")
    assert len(rows) == 1 and rows[0]["model"] == "patchcore_r18"
    run = tmp_path / "runs" / "sample" / "metal_nut" / "k2_seed0"
    assert (run / "patchcore_r18_real_64px" / "maps.npz").is_file()
    assert not (tmp_path / "results").exists()  # anomalib's files stay in the run folder

    from tvig.plots.detection import load_maps, plot_qualitative

    maps = load_maps(run / "patchcore_r18_real_64px" / "maps.npz")
    assert maps["anomaly_map"].shape == (10, 64, 64) and maps["gt_label"].sum() == 6
    fig = plot_qualitative([("baseline", maps), ("again", maps)], n=3)
    assert len(fig.axes) == 3 * 8


def test_grid_resumes_without_duplicates(sample_root, tmp_path, capsys):
    kw = dict(data_root=sample_root, dataset="sample", out_dir=tmp_path, progress=False)
    cfg = DetectionConfig(image_size=64, n_augment=3, shots=[2], models=["padim"],
                          train_sets=["real", "augmented"], seeds=[0])
    spec = GridSpec(["brick"], cfg)
    first = run_grid(spec, **kw)
    assert [r["train_set"] for r in first] == ["real", "augmented"]
    assert first[1]["n_train"] == 5 and first[1]["n_augmented"] == 3
    assert first[1]["n_generated"] == 0
    assert run_grid(spec, **kw) == []  # all done: nothing runs again
    spec = GridSpec(["brick"], cfg.replace(seeds=[0, 1]))
    more = run_grid(spec, **kw)
    assert [(r["seed"], r["train_set"]) for r in more] == [(1, "real"), (1, "augmented")]
    assert "resuming: 2 of 4 runs" in capsys.readouterr().out
    rows = atomic.read_csv(tmp_path / "results.csv")
    keys = [(r["seed"], r["train_set"]) for r in rows]
    assert len(rows) == 4 and len(set(keys)) == 4
    s = summarise(tmp_path / "results.csv")
    assert list(s["n_seeds"]) == [2, 2] and s["image_auroc_std"].notna().all()
    for m in METRICS:
        assert s[f"{m}_mean"].between(0, 1).all()


def test_unknown_model_lists_valid_names():
    with pytest.raises(InputError, match="valid models: anomaly_dino, cflow, efficient_ad, "
                       "padim, patchcore, patchcore_r18, patchcore_wrn50, reverse_distillation, "
                       "winclip"):
        DetectionConfig(models="patchcore_r50", image_size=64)


def test_config_checks_once_and_names_devices():
    from tvig.errors import ConfigError

    assert DetectionConfig(device="GPU", check_device=False).device == "cuda"
    for bad, needle in ((dict(epochs=0), "epochs must be a positive integer, got 0"),
                        (dict(batch_size=True), "batch size must be a positive integer"),
                        (dict(seeds=[]), "at least one seed"),
                        (dict(device="tpu"), "valid devices: auto, cpu, cuda, gpu")):
        with pytest.raises(ConfigError, match=needle):
            DetectionConfig(**bad)


def test_bad_inputs_rejected_before_training(sample_root, tmp_path, no_training):
    kw = dict(data_root=sample_root, dataset="sample", out_dir=tmp_path)
    cfg = DetectionConfig(image_size=64, shots=[1], seeds=[0], train_sets=["real"])

    def grid(**changes):
        return run_grid(GridSpec(["brick"], cfg.replace(**changes)), **kw)

    with pytest.raises(InputError, match="shots=9 is larger than the 8 good"):
        grid(shots=[1, 9])
    with pytest.raises(InputError, match="padim needs at least 2 training images"):
        grid(models=["padim"])
    with pytest.raises(InputError, match="need a generated folder"):
        grid(train_sets=["real", "generated", "augmented"])
    with pytest.raises(InputError, match="valid train sets"):
        grid(train_sets=["mixed"])
    broken = tmp_path / "data"
    shutil.copytree(sample_root / "gravel", broken / "gravel")
    shutil.rmtree(broken / "gravel" / "ground_truth" / "scratch")  # no ground_truth/ at all is
    with pytest.raises(InputError, match="no ground-truth masks for defect.s. scratch"):  # fine
        run_detection(cfg.replace(models=["padim"]), broken, "gravel", 1, 0, "padim",
                      out_dir=tmp_path, dataset="folder")
    assert not (tmp_path / "results.csv").exists()


def test_padim_needs_two_images_and_nan_scores_are_refused(sample_root, tmp_path, monkeypatch):
    import dataclasses

    import tvig.detection.detectors as D
    from tvig.errors import NumericsError

    kw = dict(out_dir=tmp_path, dataset="sample")
    cfg = DetectionConfig(models="padim", image_size=64)
    with pytest.raises(InputError, match="padim needs at least 2 training images"):
        run_detection(cfg, sample_root, "brick", 1, 0, "padim", "real", **kw)
    # without the guard, PaDiM's 1-image covariance gives NaN scores: never a results row
    monkeypatch.setitem(D.DETECTORS, "padim", dataclasses.replace(D.DETECTORS["padim"],
                                                                  min_train=1))
    with pytest.raises(NumericsError, match="non-finite image scores"):
        run_detection(cfg, sample_root, "brick", 1, 0, "padim", "real", **kw)
    assert not (tmp_path / "results.csv").exists()


def test_pretrained_follows_cached_weights(tmp_path, monkeypatch):
    import torch

    spec = get_detector("padim")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert resolve_pretrained(spec, None) is False  # offline, nothing cached: random backbone
    with pytest.raises(AssetMissingError, match="not cached"):
        resolve_pretrained(spec, True)
    from timm.models import _builder, get_pretrained_cfg

    url = get_pretrained_cfg("resnet18").url
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / url.rsplit("/", 1)[-1]).write_bytes(b"x")
    # timm reads the torch hub file only with TIMM_USE_OLD_CACHE (else the Hugging Face Hub)
    assert resolve_pretrained(spec, None) is False
    monkeypatch.setattr(_builder, "_USE_OLD_CACHE", True)
    assert resolve_pretrained(spec, None) is True
    assert resolve_pretrained(spec, False) is False


def test_registry_and_sizes():
    assert {"padim", "patchcore", "patchcore_r18", "patchcore_wrn50", "cflow", "efficient_ad",
            "reverse_distillation", "anomaly_dino", "winclip"} == set(DETECTORS)
    assert all(d.anchor and d.description for d in DETECTORS.values())
    assert DETECTORS["patchcore_r18"].kwargs["layers"] == ("layer2", "layer3")
    with pytest.raises(InputError, match="efficient_ad needs image_size >= 256"):
        build_detector("efficient_ad", image_size=64, imagenet_dir=".")
    model, info = build_detector("cflow", image_size=64, pretrained=False)
    assert info.epochs == 50 and model.model.fiber_batch_size == 4  # layer4 is 2x2 at 64 px


def _rows():
    rows = []
    for cat, base in (("brick", 0.6), ("metal_nut", 0.8)):
        for seed in (0, 1):
            for ts, d in (("real", 0.0), ("generated", 0.1), ("augmented", 0.05)):
                rows.append(dict(dataset="sample", category=cat, model="padim", k=1, seed=seed,
                                 train_set=ts, image_auroc=base + d + 0.01 * seed,
                                 pixel_auroc=0.9, aupro=0.5, seconds=1, n_train=1,
                                 n_generated=0, pretrained=False))
    return rows


def test_summary_gains_and_figures():
    from tvig.plots.detection import plot_gain_scatter, plot_train_set_bars

    s = summarise(_rows())
    assert len(s) == 6
    real = s[(s.category == "brick") & (s.train_set == "real")].iloc[0]
    assert real["image_auroc_mean"] == pytest.approx(0.605)
    assert real["image_auroc_std"] == pytest.approx(0.00707, abs=1e-4)
    g = gains(_rows())
    assert list(g["gain"].round(6)) == [0.1, 0.1]
    fig = plot_train_set_bars(s)
    assert "RANDOM" in fig._suptitle.get_text()
    q = [dict(category="brick", similarity=0.7, diversity=0.2),
         dict(category="metal_nut", similarity=0.8, diversity=0.1)]
    assert len(plot_gain_scatter(g, q).axes) == 2
    with pytest.raises(InputError, match="lacks column"):
        plot_gain_scatter(g, [dict(category="brick", similarity=1)])
    with pytest.raises(InputError, match="empty"):
        summarise([])


def test_cli_detect_and_errors(cli, tmp_path):
    r = cli("detect", "--category", "brick", "--model", "nope", "--out", tmp_path)
    assert r.returncode == 2 and "valid models: anomaly_dino, cflow" in r.stderr
    r = cli("detect", "--category", "metal_nut", "--shots", "1", "--model", "patchcore_r18",
            "--control", "--n-augment", "2", "--seeds", "0", "--profile", "tiny",
            "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "RANDOM WEIGHTS" in r.stdout and "image_auroc_mean" in r.stdout
    rows = atomic.read_csv(tmp_path / "results.csv")
    assert [x["train_set"] for x in rows] == ["real", "augmented"]
    r = cli("detect", "--category", "metal_nut", "--shots", "1", "--control",
            "--n-augment", "2", "--seeds", "0", "--profile", "tiny", "--out", tmp_path)
    assert r.returncode == 0 and "nothing new to run" in r.stdout
    r = cli("detect-grid", "--categories", "metal_nut")
    assert r.returncode == 2 and "use tvig experiment run" in r.stderr


@pytest.mark.slow
def test_efficient_ad_offline_stand_ins(sample_root, tmp_path, capsys):
    """No teacher, no ImageNette, no network: labelled stand-ins, never a download."""
    kw = dict(out_dir=tmp_path, dataset="sample")
    cfg = DetectionConfig(models="efficient_ad", image_size=256, epochs=1)
    with pytest.raises(InputError, match="needs >= 2 training steps"):
        run_detection(cfg, sample_root, "metal_nut", 1, 0, "efficient_ad", "real", **kw)
    row = run_detection(cfg, sample_root, "metal_nut", 2, 0, "efficient_ad", "real", **kw)
    out = capsys.readouterr().out
    assert "RANDOM teacher" in out and "stand-in ImageFolder" in out
    assert row["pretrained"] is False and all(0.0 <= row[m] <= 1.0 for m in METRICS)
    standin = tmp_path / "runs" / "sample" / "metal_nut" / "k2_seed0" / "imagenette_standin"
    assert len(list((standin / "standin").glob("*.png"))) == 2


def test_grid_spec_accepts_single_values():
    """The notebook runner passes one k (shots=1) to every notebook, notebook 04 included."""
    cfg = DetectionConfig(shots=1, models="padim", seeds=0, train_sets="real")
    spec = GridSpec("brick", cfg)
    assert spec.jobs() == [dict(category="brick", k=1, seed=0, model="padim", train_set="real")]
    two = GridSpec(["a"], cfg.replace(shots=[1, "all"], seeds=[3, 4]))
    assert two.config.shots == (1, "all") and len(two.jobs()) == 3  # 'all' uses one seed


def test_a_changed_input_never_reuses_an_old_row(tmp_path):
    """Issue 15: the results key holds a fingerprint of the data root, the generated set and the
    training settings, so `tvig detect` reruns a row when any of them changed."""
    from tvig.detection.run import inputs_fingerprint, row_key

    gen = tmp_path / "gen"
    (gen / "images").mkdir(parents=True)
    (gen / "manifest.csv").write_text("file\nimages/a.png\n")
    cfg = DetectionConfig(image_size=64)
    base = inputs_fingerprint(cfg, tmp_path / "data", "brick", gen / "images", "generated")
    assert base == inputs_fingerprint(cfg, tmp_path / "data", "brick", gen / "images", "generated")
    assert base != inputs_fingerprint(cfg, tmp_path / "other", "brick", gen / "images", "generated")
    assert base != inputs_fingerprint(DetectionConfig(image_size=128), tmp_path / "data", "brick",
                                      gen / "images", "generated")
    (gen / "manifest.csv").write_text("file\nimages/b.png\n")  # another generated set
    changed = inputs_fingerprint(cfg, tmp_path / "data", "brick", gen / "images", "generated")
    assert changed != base
    row = dict(dataset="folder", category="brick", model="padim", k=1, seed=0,
               train_set="generated", image_size=64, backbone="resnet18")
    assert row_key({**row, "inputs": base}) != row_key({**row, "inputs": changed})
    assert row_key(row) != row_key({**row, "inputs": base})  # an old table's row reruns
