import hashlib

import numpy as np
import pytest
from PIL import Image

from tvig.detection.sample_data import (
    SAMPLE_CLASSES,
    make_defect,
    write_sample_class,
    write_sample_data,
)
from tvig.errors import ConfigError


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.png")):
        h.update(str(p.relative_to(folder)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_mvtec_layout(sample_root):
    for name, cls in SAMPLE_CLASSES.items():
        root = sample_root / name
        assert len(list((root / "train" / "good").glob("*.png"))) == 8
        assert len(list((root / "test" / "good").glob("*.png"))) == 4
        for d in cls.defects:
            imgs = sorted((root / "test" / d).glob("*.png"))
            masks = sorted((root / "ground_truth" / d).glob("*_mask.png"))
            assert [m.name.replace("_mask", "") for m in masks] == [i.name for i in imgs]
        assert not (root / "ground_truth" / "good").exists()


def test_masks_align_with_changed_pixels(sample_root):
    """A mask is exactly where a defect changed pixels: binary, non-empty, same size."""
    for name, cls in SAMPLE_CLASSES.items():
        for d in cls.defects:
            for img_p in sorted((sample_root / name / "test" / d).glob("*.png")):
                mask = np.asarray(Image.open(sample_root / name / "ground_truth" / d /
                                             img_p.name.replace(".png", "_mask.png")))
                img = np.asarray(Image.open(img_p).convert("RGB"))
                assert mask.shape == img.shape[:2] and set(np.unique(mask)) == {0, 255}
                assert 0.002 < (mask > 0).mean() < 0.3


def test_defect_pixels_are_the_defect_colour():
    rng = np.random.RandomState(0)
    img, mask = make_defect(SAMPLE_CLASSES["brick"], "blob", rng, 64)
    assert mask.any()
    assert (img[mask] == np.array([170, 40, 160])).all()


def test_deterministic_under_seed(tmp_path):
    a = write_sample_class(tmp_path / "a", "metal_nut", seed=3)
    b = write_sample_class(tmp_path / "b", "metal_nut", seed=3)
    c = write_sample_class(tmp_path / "c", "metal_nut", seed=4)
    assert _digest(a) == _digest(b) != _digest(c)


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="valid sample classes: brick, gravel, metal_nut"):
        write_sample_data(tmp_path, ["carpet"])
    with pytest.raises(ConfigError, match="n_train must be a positive integer"):
        write_sample_class(tmp_path, "brick", n_train=0)


def test_cli_sample_data(cli, tmp_path):
    r = cli("sample-data", tmp_path / "x", "--classes", "brick")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x" / "brick" / "train" / "good" / "000.png").exists()


def test_loads_in_anomalib_folder_datamodule(sample_root):
    from anomalib.data import Folder

    root = sample_root / "metal_nut"
    dm = Folder(name="metal_nut", root=root, normal_dir="train/good",
                abnormal_dir=["test/scratch", "test/missing"], normal_test_dir="test/good",
                mask_dir=["ground_truth/scratch", "ground_truth/missing"],
                train_batch_size=4, eval_batch_size=4, num_workers=0)
    dm.setup()
    assert len(dm.train_data) == 8
    assert len(dm.test_data) + len(dm.val_data) == 4 + 6  # anomalib splits val from test
    batch = next(iter(dm.test_dataloader()))
    assert batch.image.shape[1] == 3 and batch.gt_mask is not None
