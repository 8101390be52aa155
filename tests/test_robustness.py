"""Issue 9: every bad input, interruption, corrupt asset and numeric failure has a test.

Rows of the issue -> tests (slow = ``@pytest.mark.slow``, subprocesses):
1 images (this file): missing path, empty folder, non-image with an image extension, truncated
  PNG/JPEG, 16-bit, RGBA/palette, grayscale, CMYK, EXIF-rotated, 1x1, 8000x8000, mixed sizes,
  non-ASCII and space paths.
2 parameters (test_robustness_params.py): test_generate_bad_parameters (--n 0/-3, --rounds,
  --seed, unknown profile/device, cuda without GPU), test_detect_bad_parameters (--shots 0/-3/
  500, unknown model/dataset/class/profile/device, --seeds -1, --n-augment 0, --image-size 0,
  --epochs 0, gpu without CUDA), test_grid_shots_too_few_for_the_model,
  test_the_real_process_gives_the_same_single_line,
  test_category_wordnet_does_not_know_notes_once_and_uses_templates.
3 assets (test_robustness_assets.py): test_bad_download_leaves_an_empty_cache (checksum,
  truncated, web page), test_dropped_connection_keeps_only_the_resumable_part,
  test_file_that_is_not_a_checkpoint, test_checkpoint_of_another_architecture_names_the_first_keys,
  test_offline_with_nothing_cached.
4 interruptions (test_robustness_runs.py, slow):
  test_killed_generate_resumes_to_the_uninterrupted_set and test_killed_grid_resumes_to_the_same_rows (SIGTERM and SIGKILL each),
  test_interrupt_inside_lightning_is_not_swallowed. In-process crashes: test_pipeline.py.
5 numerics (test_robustness_runs.py): test_nan_from_an_absurd_learning_rate_stops_with_its_step.
6 determinism (test_robustness_runs.py, slow):
  test_same_seed_same_bytes_and_the_manifest_remakes_an_image.
7 no network: conftest.py turns the guard on for the suite and its subprocesses
  (test_netguard.py); test_network_guard_is_active_in_a_notebook_kernel (slow) for papermill.
Issue 18 (awkward inputs: dataset images, unwritable or shared --out, non-ASCII paths,
figures): test_robustness_inputs.py, one test per row (its docstring maps them).
"""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from tvig.errors import InputError
from tvig.images import collect_image_paths, load_images, open_image, save_png

S = 32  # target size in these tests


def _img(w=40, h=40, mode="RGB", color=(200, 100, 50)):
    if mode in ("L",):
        return Image.new(mode, (w, h), 128)
    return Image.new(mode, (w, h), color if mode == "RGB" else color + (255,) if mode == "RGBA" else 0)


def _write(path, img, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    return path


# ---- row 1: rejected, naming the file -----------------------------------------------------
def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="image path not found: .*nope.png"):
        load_images([tmp_path / "nope.png"], S)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="folder has no images: .*empty"):
        load_images([tmp_path / "empty"], S)


def test_no_paths():
    with pytest.raises(InputError, match="no images given"):
        load_images([], S)


def test_text_file_named_png(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("this is not an image")
    with pytest.raises(InputError, match="not an image.*notes.png"):
        load_images([p], S)


@pytest.mark.parametrize("fmt,ext", [("PNG", ".png"), ("JPEG", ".jpg")])
def test_truncated_file(tmp_path, fmt, ext):
    rng = np.random.RandomState(0)
    buf = io.BytesIO()
    Image.fromarray(rng.randint(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, format=fmt)
    p = tmp_path / f"cut{ext}"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InputError, match=f"cut{ext}.*(truncated|corrupt)|cannot read image .*cut"):
        load_images([p], S)


def test_one_pixel_image(tmp_path):
    p = _write(tmp_path / "dot.png", _img(1, 1))
    with pytest.raises(InputError, match="image too small: .*dot.png is 1x1"):
        load_images([p], S)


def test_bad_file_is_reported_before_any_pixel_is_used(tmp_path):
    good = _write(tmp_path / "a.png", _img())
    bad = tmp_path / "b.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(InputError, match="b.png"):
        load_images([good, bad], S)


# ---- row 1: converted, with a note -------------------------------------------------------
def test_16bit_png(tmp_path):
    arr = (np.linspace(0, 65535, 40 * 40).reshape(40, 40)).astype(np.uint16)
    p = _write(tmp_path / "deep.png", Image.fromarray(arr))
    assert Image.open(p).mode.startswith("I")
    x, [info] = load_images([p], S)
    assert x.shape == (1, 3, S, S) and 0 <= x.min() and x.max() <= 1
    assert x.max() > 0.9 and x.min() < 0.1  # full range kept, not clipped to 255/65535
    assert any("high bit depth" in n for n in info.notes)


def test_rgba_composited_on_white(tmp_path):
    img = Image.new("RGBA", (40, 40), (255, 0, 0, 0))  # fully transparent red
    p = _write(tmp_path / "alpha.png", img)
    x, [info] = load_images([p], S)
    assert torch.allclose(x, torch.ones_like(x))
    assert any("transparency" in n for n in info.notes)


def test_palette_png(tmp_path):
    p = _write(tmp_path / "pal.png", _img().convert("P"))
    x, [info] = load_images([p], S)
    assert any("converted P" in n for n in info.notes)
    assert abs(x[0, 0].mean().item() - 200 / 255) < 0.03


def test_grayscale(tmp_path):
    p = _write(tmp_path / "gray.png", _img(mode="L"))
    x, [info] = load_images([p], S)
    assert torch.allclose(x[0, 0], x[0, 1]) and any("converted L" in n for n in info.notes)


def test_cmyk_jpeg(tmp_path):
    p = _write(tmp_path / "cmyk.jpg", _img().convert("CMYK"), format="JPEG", quality=95)
    x, [info] = load_images([p], S)
    assert x.shape == (1, 3, S, S) and any("CMYK" in n for n in info.notes)
    assert abs(x[0, 0].mean().item() - 200 / 255) < 0.08  # red channel survives CMYK round trip


def test_exif_rotated_jpeg(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white, landscape 40x20
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display -> portrait 20x40, white on top
    p = _write(tmp_path / "rot.jpg", Image.fromarray(arr), format="JPEG", exif=exif, quality=95)
    img, info = open_image(p)
    assert img.size == (20, 40) and "EXIF" in " ".join(info.notes)
    a = np.asarray(img).astype(float)
    assert a[:20].mean() > 200 and a[20:].mean() < 50


def test_very_large_image_downscaled(tmp_path):
    p = _write(tmp_path / "huge.jpg", Image.new("RGB", (8000, 8000), (10, 200, 10)), format="JPEG")
    x, [info] = load_images([p], S)
    assert x.shape == (1, 3, S, S)
    assert any("reduced size" in n for n in info.notes)  # decoded at 1/8 scale: little memory


def test_mixed_sizes_in_one_folder(tmp_path):
    _write(tmp_path / "f" / "a.png", _img(40, 40))
    _write(tmp_path / "f" / "b.png", _img(64, 48))
    _write(tmp_path / "f" / "c.jpg", _img(31, 77), format="JPEG")
    (tmp_path / "f" / "readme.txt").write_text("ignored")
    x, infos = load_images([tmp_path / "f"], S)
    assert x.shape == (3, 3, S, S)
    assert [i.path.name for i in infos] == ["a.png", "b.png", "c.jpg"]
    assert any("centre-cropped 64x48" in n for n in infos[1].notes)


def test_non_ascii_and_space_paths(tmp_path):
    p = _write(tmp_path / "Prüf bilder" / "schraube 01 ✓.png", _img())
    x, [info] = load_images([p.parent], S)
    assert x.shape == (1, 3, S, S) and info.path == p
    assert collect_image_paths(str(p)) == [p]


def test_save_png_round_trip_is_atomic(tmp_path):
    x = torch.rand(3, 16, 16)
    p = save_png(x, tmp_path / "o" / "x.png")
    y, _ = load_images([p], 16)
    assert (y[0] - x).abs().max() <= 0.5 / 255 + 1e-6
    assert [q.name for q in p.parent.iterdir()] == ["x.png"]  # no temp file left
