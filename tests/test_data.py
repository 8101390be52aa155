"""Datasets, class validation, k-shot sampling and the three training sets."""
import dataclasses
import hashlib
import shutil

import numpy as np
import pytest
from PIL import Image

from tvig.augmentations import rules_for
from tvig.detection.datasets import (
    choose_shots,
    parse_shots,
    resolve_class,
    sample_shots,
    validate_class,
)
from tvig.detection.training_sets import (
    build_training_set,
    write_augmented,
)
from tvig.errors import InputError
from tvig.images import list_images


def _sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def brick(sample_root):
    return validate_class(sample_root / "brick")


def test_validate_sample_class(brick):
    assert brick.normal == "good" and brick.defects == ("blob", "crack")
    assert (brick.n_train, brick.n_test_good, brick.n_test_defect) == (8, 4, 6)


def test_kshot_deterministic_nested_and_seed_dependent(brick):
    a, b = choose_shots(brick, 5, seed=3), choose_shots(brick, 5, seed=3)
    assert a == b and len(set(a)) == 5
    assert set(choose_shots(brick, 1, seed=3)) <= set(a)  # 1-shot image is in the 5-shot set
    picks = {tuple(choose_shots(brick, 1, seed=s)) for s in range(8)}
    assert len(picks) > 1  # the seed changes the choice
    assert choose_shots(brick, "all", seed=0) == brick.train_images()


def test_kshot_never_leaks_test_images(brick, tmp_path):
    test_hashes = {_sha(p) for p in brick.root.glob("test/*/*.png")}
    train_hashes = {_sha(p) for p in brick.train_images()}
    for seed in range(3):
        for k in (1, 5, "all"):
            links = sample_shots(brick, k, seed, tmp_path / f"{k}_{seed}")
            got = {_sha(p) for p in links}
            assert got <= train_hashes and not got & test_hashes
            assert len(list_images(tmp_path / f"{k}_{seed}")) == (8 if k == "all" else k)


def test_resampling_into_same_folder_removes_stale_shots(brick, tmp_path):
    sample_shots(brick, 5, 0, tmp_path / "real")
    links = sample_shots(brick, 1, 0, tmp_path / "real")
    assert list_images(tmp_path / "real") == links and len(links) == 1


@pytest.mark.parametrize("bad", [0, -1, "two", 2.5, True])
def test_parse_shots_rejects(bad):
    with pytest.raises(InputError, match="positive integer or 'all'"):
        parse_shots(bad)


def test_k_larger_than_good_set(brick):
    with pytest.raises(InputError, match="shots=9 is larger than the 8 good training images"):
        choose_shots(brick, 9, 0)


def test_missing_ground_truth_is_clear(sample_root, tmp_path):
    cls = tmp_path / "brick"
    shutil.copytree(sample_root / "brick", cls)
    shutil.rmtree(cls / "ground_truth" / "crack")
    with pytest.raises(InputError, match="no ground-truth masks for defect.*crack"):
        validate_class(cls)
    (cls / "ground_truth" / "crack").mkdir()
    shutil.copy(cls / "ground_truth" / "blob" / "000_mask.png", cls / "ground_truth" / "crack")
    with pytest.raises(InputError, match="3 defective images but 1 masks"):
        validate_class(cls)


def test_mask_names_must_match_images(sample_root, tmp_path):
    cls = tmp_path / "brick"
    shutil.copytree(sample_root / "brick", cls)
    gt = cls / "ground_truth" / "blob"
    (gt / "002_mask.png").rename(gt / "zzz_mask.png")
    with pytest.raises(InputError, match="does not belong to image"):
        validate_class(cls)


def test_class_without_training_images(tmp_path):
    (tmp_path / "x" / "train" / "good").mkdir(parents=True)
    with pytest.raises(InputError, match="no training images in train/good"):
        validate_class(tmp_path / "x")
    with pytest.raises(InputError, match="class folder not found"):
        validate_class(tmp_path / "nope")


def test_btad_layout_ok_names(sample_root, tmp_path):
    """BTAD uses train/ok, test/ok, test/ko, ground_truth/ko (masks named like the image)."""
    src, cls = sample_root / "metal_nut", tmp_path / "01"
    for sub, dst in (("train/good", "train/ok"), ("test/good", "test/ok"),
                     ("test/scratch", "test/ko")):
        shutil.copytree(src / sub, cls / dst)
    (cls / "ground_truth" / "ko").mkdir(parents=True)
    for m in (src / "ground_truth" / "scratch").glob("*.png"):
        shutil.copy(m, cls / "ground_truth" / "ko" / m.name.replace("_mask", ""))
    layout = resolve_class("btad", tmp_path, "01")
    assert layout.normal == "ok" and layout.defects == ("ko",) and layout.n_train == 8


def test_resolve_registry_errors(tmp_path):
    with pytest.raises(InputError, match="valid datasets: btad, folder, mvtec_ad"):
        resolve_class("mvtec", tmp_path, "bottle")
    with pytest.raises(InputError, match="valid mvtec_ad classes: bottle"):
        resolve_class("mvtec_ad", tmp_path, "bottel")
    with pytest.raises(InputError, match="--download"):  # offline and missing: says what to do
        resolve_class("mvtec_ad", tmp_path, "bottle")
    with pytest.raises(InputError, match="needs a data root"):
        resolve_class("mvtec_loco", None, "pushpins")


def test_download_offline_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="could not download MVTec AD.*No network"):
        resolve_class("mvtec_ad", tmp_path / "mvtec", "bottle", download=True)


def test_resolve_sample_writes_once(tmp_path):
    layout = resolve_class("sample", None, "metal_nut", work_dir=tmp_path)
    assert layout.root == tmp_path / "sample_data" / "metal_nut" and layout.n_train == 8


def test_loco_masks_are_merged(sample_root, tmp_path):
    src = tmp_path / "loco" / "pushpins"
    shutil.copytree(sample_root / "metal_nut" / "train", src / "train")
    shutil.copytree(sample_root / "metal_nut" / "test" / "good", src / "test" / "good")
    shutil.copytree(sample_root / "metal_nut" / "test" / "scratch",
                    src / "test" / "logical_anomalies")
    for img in (src / "test" / "logical_anomalies").glob("*.png"):
        d = src / "ground_truth" / "logical_anomalies" / img.stem
        d.mkdir(parents=True)
        for i, box in enumerate([(0, 0, 10, 10), (20, 20, 30, 30)]):
            m = np.zeros((128, 128), np.uint8)
            m[box[1]:box[3], box[0]:box[2]] = 100 + i
            Image.fromarray(m).save(d / f"{i:03d}.png")
    layout = resolve_class("mvtec_loco", tmp_path / "loco", "pushpins", work_dir=tmp_path / "w")
    mask = np.asarray(Image.open(layout.mask_dirs[0] / "000_mask.png"))
    assert layout.defects == ("logical_anomalies",) and (mask > 0).sum() == 200
    assert set(np.unique(mask)) == {0, 255}


def test_three_training_sets(brick, tmp_path):
    run = tmp_path / "run"
    shots = sample_shots(brick, 2, 0, run / "real")
    gen = tmp_path / "gen"
    (gen / "images").mkdir(parents=True)
    for i in range(5):
        Image.new("RGB", (40, 40), (i * 40, 0, 0)).save(gen / "images" / f"{i}.png")
    (gen / "manifest.csv").write_text("file\n")
    a = build_training_set("real", shots, run)
    b = build_training_set("generated", shots, run, generated_dir=gen)
    c = build_training_set("augmented", shots, run, generated_dir=gen, seed=0)
    assert (a.n_train, b.n_train, c.n_train) == (2, 7, 7)  # (c) matches (b)'s count
    assert a.normal_dirs == [run / "real"]
    assert b.normal_dirs == [run / "real", run / "generated"]
    assert c.normal_dirs == [run / "real", run / "augmented"]
    assert len(list_images(run / "generated")) == 5 and len(list_images(run / "augmented")) == 5
    assert not list((run / "augmented").glob(".tvig-tmp-*"))  # written atomically
    with pytest.raises(InputError, match="needs a generated folder"):
        build_training_set("generated", shots, run)
    with pytest.raises(InputError, match="valid train sets: augmented, generated, real"):
        build_training_set("mixed", shots, run)
    with pytest.raises(InputError, match="no generated images"):
        build_training_set("generated", shots, run, generated_dir=tmp_path / "empty")


def test_augmentation_deterministic_and_varied(brick, tmp_path):
    shots = brick.train_images()[:2]
    rules = rules_for("brick")
    a = write_augmented(shots, 4, 7, tmp_path / "a", rules)
    b = write_augmented(shots, 4, 7, tmp_path / "b", rules)
    c = write_augmented(shots, 4, 8, tmp_path / "c", rules)
    assert [_sha(p) for p in a] == [_sha(p) for p in b] != [_sha(p) for p in c]
    arrs = [np.asarray(Image.open(p), dtype=np.float32) for p in a]
    assert arrs[0].shape == (128, 128, 3)
    orig = np.asarray(Image.open(shots[0]), dtype=np.float32)
    assert np.abs(arrs[0] - orig).mean() > 1.0  # really changed
    none = dataclasses.replace(rules, hflip=False, vflip=False, rot90=False, degrees=0, shift=0,
                               jitter=0)
    same = write_augmented(shots[:1], 1, 0, tmp_path / "d", none)
    assert np.abs(np.asarray(Image.open(same[0]), dtype=np.float32) - orig).max() <= 1
