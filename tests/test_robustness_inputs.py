"""Issue 18: awkward inputs a new user hit. Each row of the issue -> tests here.

1 notebooks run on a folder not named after a dataset; classes without masks:
  test_notebooks_run_on_a_folder_of_any_name_checks_notebook_04_before_01,
  test_class_without_ground_truth_is_accepted_for_image_metrics.
2 dataset / generated images through tvig's reader: test_16_bit_test_images_get_8_bit_copies,
  test_corrupt_test_image_is_named_before_training.
3 read-only output / path under a file: test_output_checks, test_every_command_refuses_an_unwritable_out.
4 non-ASCII paths: test_non_ascii_folders_are_handed_to_anomalib_under_ascii_links.
5 two writers to one --out: test_second_generate_into_a_claimed_out_exits_with_one_line.
6 sample-data --size 256: test_sample_data_at_the_papers_size.
7 stray files, subfolders, the keyword note: test_manifest_is_the_truth_for_a_generated_set,
  test_subfolder_of_a_shots_folder_is_noted;
  test_robustness_params.py::test_category_wordnet_does_not_know_notes_once_and_uses_templates.
8 flaky gradient test: test_speed.py::test_micro_batches_accumulate_the_same_gradient (one
  step's gradient, not mu after Adam steps).
9 figures: test_bar_legend_covers_no_bar, test_qualitative_rows_are_labelled_one_per_defect.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from nbfactory import write_pair
from PIL import Image

from tvig import atomic
from tvig.cli import main
from tvig.detection.config import DetectionConfig
from tvig.detection.datasets import validate_class
from tvig.errors import ConfigError, InputError
from tvig.images import load_images
from tvig.paths import ascii_path
from tvig.tutorial.runner import RunConfig, plan_run


def _copy_class(sample_root: Path, dest: Path, name: str = "brick") -> Path:
    shutil.copytree(sample_root / name, dest / name)
    return dest / name


def _one_line_error(capsys, code: int, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


# ---- row 1 ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def detect_chain(tmp_path_factory) -> Path:
    """One notebook declaring `dataset`, as notebook 04 does (plan_run stages, never runs it)."""
    folder = tmp_path_factory.mktemp("nb04")
    write_pair(folder, "04_dummy_detect", "pass", 'dataset = "sample"\ndata_root = None\n'
               'category = ""\nout_dir = None\n')
    return folder


def test_notebooks_run_on_a_folder_of_any_name_checks_notebook_04_before_01(
        sample_root, tmp_path, detect_chain, capsys):
    data = tmp_path / "my_parts"
    _copy_class(sample_root, data)
    notes: list[str] = []
    plan = plan_run(RunConfig(data=data, notebooks_dir=detect_chain, out=tmp_path / "o"),
                    log=notes.append)
    assert plan.dataset == "folder" and plan.categories == ["brick"]  # not 'my_parts'
    assert any("not named after a known dataset" in n for n in notes)
    with pytest.raises(ConfigError, match="unknown dataset 'my_parts'; valid datasets: btad"):
        plan_run(RunConfig(data=data, dataset="my_parts", notebooks_dir=detect_chain,
                           out=tmp_path / "o2"))
    shutil.rmtree(data / "brick" / "ground_truth" / "crack")  # masks for one defect only
    code = main(["notebooks", "run", "--data", str(data), "--notebooks-dir", str(detect_chain),
                 "--out", str(tmp_path / "o3")])
    _one_line_error(capsys, code, "no ground-truth masks for defect(s) crack")
    assert not (tmp_path / "o3" / "folder").exists()  # refused before notebook 01 ran


def test_class_without_ground_truth_is_accepted_for_image_metrics(sample_root, tmp_path,
                                                                  detect_chain):
    folder = _copy_class(sample_root, tmp_path / "d")
    assert validate_class(folder).has_masks and len(validate_class(folder).mask_dirs) == 2
    shutil.rmtree(folder / "ground_truth")
    layout = validate_class(folder)
    assert not layout.has_masks and layout.mask_dirs == [] and layout.n_test_defect == 6
    notes: list[str] = []
    plan_run(RunConfig(data=tmp_path / "d", notebooks_dir=detect_chain, out=tmp_path / "o"),
             log=notes.append)
    assert any("no ground_truth/ folder: image metrics only" in n for n in notes)


# ---- row 2 ------------------------------------------------------------------------------
def _prepare(data: Path, out: Path, category: str = "brick"):
    from tvig.detection.run import prepare

    return prepare(DetectionConfig(), data, category, 2, 0, "patchcore_r18", "real", out_dir=out,
                   dataset="folder")


def test_16_bit_test_images_get_8_bit_copies(sample_root, tmp_path):
    folder = _copy_class(sample_root, tmp_path / "d")
    good = folder / "test" / "good" / "000.png"
    arr8 = np.asarray(Image.open(good).convert("L"))
    Image.fromarray(arr8.astype(np.uint16) * 257).save(good)  # the same picture, 16-bit
    assert Image.open(good).convert("RGB").getextrema()[0][0] == 255  # what anomalib would see
    p = _prepare(tmp_path / "d", tmp_path / "out")
    assert p.normal_test_dir != folder / "test" / "good" and len(p.notes) == 1
    assert "1 image(s) in" in p.notes[0] and "I;16" in p.notes[0]
    copy = np.asarray(Image.open(p.normal_test_dir / "000.png"))
    assert copy.shape == arr8.shape + (3,) and np.abs(copy[..., 0].astype(int) - arr8).max() <= 1
    assert sorted(f.name for f in p.normal_test_dir.iterdir()) == \
        sorted(f.name for f in (folder / "test" / "good").iterdir())
    assert p.defect_dirs == [folder / "test" / "blob", folder / "test" / "crack"]  # 8-bit: as is


def test_corrupt_test_image_is_named_before_training(sample_root, tmp_path):
    folder = _copy_class(sample_root, tmp_path / "d")
    bad = folder / "test" / "crack" / "001.png"
    bad.write_bytes(bad.read_bytes()[:200])  # truncated
    with pytest.raises(InputError, match=r"cannot read image .*crack/001\.png"):
        _prepare(tmp_path / "d", tmp_path / "out")


# ---- row 3 ------------------------------------------------------------------------------
def _read_only(folder: Path, monkeypatch) -> None:
    """chmod a-w; as root (permissions do not apply) the probe fails as on a read-only mount."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = tempfile.mkstemp

        def mkstemp(*a, dir=None, **k):
            if dir is not None and Path(dir) == folder:
                raise PermissionError(13, "Permission denied")
            return real(*a, dir=dir, **k)
        monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)


def test_output_checks(tmp_path, monkeypatch):
    f = tmp_path / "a_file"
    f.write_text("x")
    with pytest.raises(InputError, match=f"output folder {f}/sub/dir is under a file: {f} is a"):
        atomic.check_writable(f / "sub" / "dir")
    with pytest.raises(InputError, match="is a file, not a folder; choose another --out"):
        atomic.check_writable(f)
    assert atomic.check_writable(tmp_path / "new" / "deep") == tmp_path / "new" / "deep"
    assert not (tmp_path / "new").exists() and sorted(tmp_path.iterdir()) == [f]  # nothing made
    _read_only(tmp_path / "ro", monkeypatch)
    with pytest.raises(InputError, match="ro/x is not writable .*Permission denied"):
        atomic.check_writable(tmp_path / "ro" / "x")


@pytest.mark.parametrize("command", ["generate", "detect", "sample-data", "notebooks"])
def test_every_command_refuses_an_unwritable_out(command, sample_root, tmp_path, capsys,
                                                 monkeypatch):
    import tvig.pipeline

    monkeypatch.setattr(tvig.pipeline, "load_clip", lambda *a: pytest.fail("a model loaded"))
    f = tmp_path / "a_file"
    f.write_text("x")
    ro = tmp_path / "ro"
    _read_only(ro, monkeypatch)
    for out, why in ((f / "out", "is under a file"), (ro, "is not writable")):
        argv = {"generate": ["generate", "--images", str(sample_root / "brick" / "train" / "good"),
                             "--category", "brick", "--profile", "tiny", "--out", str(out)],
                "detect": ["detect", "--category", "brick", "--profile", "tiny", "--out", str(out)],
                "sample-data": ["sample-data", str(out), "--classes", "brick"],
                "notebooks": ["notebooks", "run", "--sample", "--out", str(out)]}[command]
        _one_line_error(capsys, main(argv), str(out), why)
    assert list(ro.iterdir()) == []


# ---- row 4 ------------------------------------------------------------------------------
def test_non_ascii_folders_are_handed_to_anomalib_under_ascii_links(sample_root, tmp_path):
    from tvig.detection.run import _datamodule

    data = tmp_path / "Prüfdaten"
    shutil.copytree(sample_root / "brick", data / "Ziegel-ü")  # root, class and --out
    p = _prepare(data, tmp_path / "ausgabe-ø", "Ziegel-ü")
    link = ascii_path(p.normal_test_dir)
    assert str(link).isascii() and link.resolve() == p.normal_test_dir.resolve()
    assert ascii_path(p.normal_test_dir) == link  # stable: concurrent runs share it
    dm = _datamodule(p, 2, 0)
    dm.setup()  # anomalib's own path checks run here
    assert len(dm.train_data) == 2 and len(dm.test_data) == 4 + 6


# ---- row 5 ------------------------------------------------------------------------------
def test_second_generate_into_a_claimed_out_exits_with_one_line(sample_root, tmp_path, capsys,
                                                                 monkeypatch):
    import tvig.pipeline

    monkeypatch.setattr(tvig.pipeline, "load_clip", lambda *a: pytest.fail("a model loaded"))
    out = tmp_path / "out"
    with atomic.claim(out):
        assert (out / atomic.LOCK_NAME).read_text() == str(os.getpid())
        code = main(["generate", "--images", str(sample_root / "brick" / "train" / "good"),
                     "--category", "brick", "--profile", "tiny", "--out", str(out)])
        _one_line_error(capsys, code, f"another tvig run is writing to {out} (pid {os.getpid()}",
                        "wait for it to finish or choose another --out")
    assert list(out.iterdir()) == []  # the claim leaves nothing behind
    with atomic.claim(out):  # and can be taken again
        pass


# ---- row 6 ------------------------------------------------------------------------------
def test_sample_data_at_the_papers_size(tmp_path):
    from tvig.detection.sample_data import write_sample_class

    for name in ("brick", "gravel"):  # the textures crop a bundled 512 px photo
        folder = write_sample_class(tmp_path, name, size=256, n_train=1, n_test_good=1,
                                    n_test_defect=1)
        img = Image.open(folder / "train" / "good" / "000.png")
        assert img.size == (256, 256) and np.asarray(img).std() > 10  # a texture, not flat


# ---- row 7 ------------------------------------------------------------------------------
def _fake_set(folder: Path, n: int) -> None:
    from tvig.integrator.writer import write_manifest

    for i in range(n):
        Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(_mk(folder / "images" / f"img_{i:04d}.png"))
    write_manifest(folder / "manifest.csv", [{"file": f"img_{i:04d}.png", "index": i}
                                             for i in range(n)])


def _mk(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_manifest_is_the_truth_for_a_generated_set(tmp_path):
    from tvig.detection.training_sets import generated_images

    gen = tmp_path / "generated"
    _fake_set(gen, 3)
    Image.new("RGB", (16, 16)).save(gen / "images" / "holiday.jpg")  # a stray file
    assert [f.name for f in generated_images(gen)] == [f"img_{i:04d}.png" for i in range(3)]
    (gen / "images" / "img_0001.png").unlink()
    with pytest.raises(InputError, match="img_0001.png is listed in .*manifest.csv but missing"):
        generated_images(gen)
    plain = tmp_path / "plain"  # no manifest: any folder of images
    _mk(plain / "a.png")
    Image.new("RGB", (16, 16)).save(plain / "a.png")
    assert [f.name for f in generated_images(plain)] == ["a.png"]


def test_subfolder_of_a_shots_folder_is_noted(sample_root, tmp_path):
    shots = tmp_path / "shots"
    shutil.copytree(sample_root / "brick" / "train" / "good", shots)
    shutil.copytree(sample_root / "brick" / "test" / "crack", shots / "more")
    (shots / ".ipynb_checkpoints").mkdir()  # hidden folders are not news
    x, infos = load_images([shots], 128)  # the shots' own size: no resize notes
    assert x.shape[0] == 8  # the subfolder's images are not read ...
    notes = [n for i in infos for n in i.notes]
    assert notes == [f"subfolder(s) more of {shots} skipped (only the images directly in a "
                     "folder are read)"]  # ... and said once


# ---- row 9 ------------------------------------------------------------------------------
def test_bar_legend_covers_no_bar():
    from test_detection import _rows

    from tvig.detection.grid import summarise
    from tvig.plots.detection import plot_train_set_bars

    fig = plot_train_set_bars(summarise(_rows()))
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    (legend,) = fig.legends
    box = legend.get_window_extent(r)
    bars = [p.get_window_extent(r) for ax in fig.axes for p in ax.patches]
    assert bars and not any(box.overlaps(b) for b in bars)
    assert [t.get_text() for t in legend.get_texts()] == [
        "baseline (real shots)", "+ generated", "+ augmentation (control)"]


def test_qualitative_rows_are_labelled_one_per_defect(tmp_path):
    from tvig.plots.detection import plot_qualitative

    paths, gt = [], []
    for d, n, area in (("good", 2, 0), ("crack", 3, 5), ("scratch", 2, 2)):
        for i in range(n):
            p = _mk(tmp_path / "test" / d / f"{i:03d}.png")
            Image.new("RGB", (16, 16), (100, 100, 100)).save(p)
            m = np.zeros((16, 16), bool)
            side = area + i if area else 0  # good images have an empty mask
            m[:side, :side] = True
            paths.append(str(p))
            gt.append(m)
    gt = np.stack(gt)
    maps = dict(image_path=np.array(paths), gt_mask=gt, pred_mask=gt,
                gt_label=gt.reshape(len(gt), -1).any(1).astype(int),
                anomaly_map=gt.astype(np.float16), pred_score=np.zeros(len(gt)))
    fig = plot_qualitative([("baseline", maps)], n=3)
    labels = [fig.axes[5 * r].get_ylabel() for r in range(3)]
    # one per defect type (largest mask of each), in name order, then the next largest
    assert labels == ["crack\n002.png", "scratch\n001.png", "crack\n001.png"]
    fig = plot_qualitative([("baseline", maps)], n=1)
    assert len(fig.axes) == 5 and json.dumps(fig.axes[0].get_ylabel()) == '"crack\\n002.png"'
