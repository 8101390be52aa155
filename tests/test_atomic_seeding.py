import os

import pytest
import torch

from tvig import atomic
from tvig.errors import ConfigError
from tvig.seeding import generator, resolve_device, seeded


def test_atomic_open_failure_leaves_old_file_and_no_temp(tmp_path):
    p = tmp_path / "a.txt"
    atomic.write_text(p, "old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_open(p, "w") as f:
            f.write("half")
            raise RuntimeError("crash mid-write")
    assert p.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_append_csv_rows_adds_columns_and_keeps_rows(tmp_path):
    p = tmp_path / "r.csv"
    atomic.append_csv_rows(p, [{"a": 1, "b": 2}])
    atomic.append_csv_rows(p, [{"a": 3, "c": 4}])
    assert atomic.read_csv(p) == [{"a": "1", "b": "2", "c": ""}, {"a": "3", "b": "", "c": "4"}]


def test_clean_temp_files(tmp_path):
    (tmp_path / f"{atomic.TMP_PREFIX}x.png").write_bytes(b"partial")
    (tmp_path / "keep.png").write_bytes(b"done")
    assert atomic.clean_temp_files(tmp_path) == 1
    assert os.listdir(tmp_path) == ["keep.png"]


def test_seeded_is_reproducible_and_restores_outer_state():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    with seeded(5):
        a = torch.rand(3)
    with seeded(5):
        b = torch.rand(3)
    assert torch.equal(a, b)
    assert torch.equal(torch.rand(1), expected_next)  # outer stream untouched


def test_generator_seeded():
    assert torch.equal(torch.rand(4, generator=generator(7)), torch.rand(4, generator=generator(7)))


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="valid devices: auto, cpu, cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU is available.*--device cpu"):
            resolve_device("cuda")


def test_atomic_files_get_normal_permissions(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    atomic.write_text(tmp_path / "p.txt", "x")
    assert (tmp_path / "p.txt").stat().st_mode & 0o777 == 0o666 & ~atomic._UMASK


def test_write_csv_quotes_any_text(tmp_path):
    rows = [{"file": 'a,b "c".png', "similarity": 0.5}, {"file": "d.png", "extra": 1}]
    atomic.write_csv(tmp_path / "r.csv", rows, ["file", "similarity"])
    assert atomic.read_csv(tmp_path / "r.csv") == [{"file": 'a,b "c".png', "similarity": "0.5"},
                                                  {"file": "d.png", "similarity": ""}]
