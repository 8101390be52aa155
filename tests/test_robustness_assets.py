"""Issue 9, row 3 (assets): every corrupt / wrong / missing asset gives a clear error, and the
cache folder holds no corrupt file under an asset's name afterwards (its content is asserted).
Download mechanics are tested in test_assets.py; here each case goes through the user path.
(Map: test_robustness.py.)
"""
from __future__ import annotations

import hashlib
import http.server
import os
import random
import threading

import pytest
import torch
from test_vqgan import ckpt_asset  # noqa: F401  (fixture: a tiny VQGAN as asset 'test_vqgan')

from tvig import assets
from tvig.cli import main
from tvig.errors import AssetError
from tvig.models.vqgan import VQGAN, load_vqgan, write_taming_files

PAYLOAD = random.Random(18).randbytes(3 * assets.CHUNK + 17)  # seeded: same test ids in every process
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _listing(folder) -> list[str]:
    """Relative paths under ``folder`` except the checksum stamps (``*.verified.json``)."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if not p.name.endswith(".verified.json"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TVIG_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(assets.REGISTRY, "fake_w", None)  # replaced per test, removed after
    return tmp_path / "cache"


def _fake(url: str, size=len(PAYLOAD), sha=SHA) -> None:
    assets.register(assets.Asset("fake_w", (assets.AssetFile("w.bin", (url,), size, sha),),
                                 licence="test", description="made-up test asset"))


def _source(tmp_path, data: bytes):
    p = tmp_path / "src" / "w.bin"
    p.parent.mkdir(exist_ok=True)
    p.write_bytes(data)
    return p.as_uri()


@pytest.mark.parametrize("case,data,sha,needle", [
    ("checksum mismatch", PAYLOAD, "0" * 64, "failed verification.*sha256 .* does not match"),
    ("truncated file", PAYLOAD[:1000], SHA, "size 1000 bytes, expected"),
    ("web page instead of the file", b"<!DOCTYPE html><html>log in</html>" + PAYLOAD[34:], None,
     "the server sent a web page, not w.bin"),
])
def test_bad_download_leaves_an_empty_cache(case, data, sha, needle, home, tmp_path):
    _fake(_source(tmp_path, data), sha=sha)
    with pytest.raises(AssetError, match=needle):
        assets.download(["fake_w"], progress=False, log=lambda s: None)
    assert _listing(home) == ["fake_w"]  # the folder, no file in it
    assert not assets.is_present("fake_w")


class _Dropping(http.server.BaseHTTPRequestHandler):
    """Announces the whole payload, sends half, closes: a dropped connection."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD[:len(PAYLOAD) // 2])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *a):
        pass


def test_dropped_connection_keeps_only_the_resumable_part(home):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Dropping)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        _fake(f"http://127.0.0.1:{srv.server_address[1]}/w.bin")
        with pytest.raises(AssetError, match="(?s)could not download fake_w/w.bin.*closed after "
                                             r"1572872 of 3145745 bytes.*resumed next"):
            assets.download(["fake_w"], progress=False, log=lambda s: None)
    finally:
        srv.shutdown()
    assert _listing(home) == ["fake_w", "fake_w/w.bin.part"]  # never under the real name
    assert (home / "fake_w" / "w.bin.part").stat().st_size < len(PAYLOAD)
    assert not assets.is_present("fake_w")


def test_file_that_is_not_a_checkpoint(ckpt_asset):  # noqa: F811
    _, folder, profile = ckpt_asset
    (folder / "last.ckpt").write_bytes(b"<html>not a checkpoint</html>")
    before = _listing(folder)
    with pytest.raises(AssetError, match=r"last\.ckpt is not a PyTorch checkpoint.*"
                                         r"tvig download --force test_vqgan") as e:
        load_vqgan(profile)
    assert "\n" not in str(e.value)  # one line
    assert _listing(folder) == before  # nothing written next to it


def test_checkpoint_of_another_architecture_names_the_first_keys(ckpt_asset):  # noqa: F811
    _, folder, profile = ckpt_asset
    other = profile.arch.__class__(**{**profile.arch.__dict__, "ch": 64})  # wider layers
    torch.manual_seed(0)
    write_taming_files(VQGAN(other), folder / "other")
    os.replace(folder / "other" / "last.ckpt", folder / "last.ckpt")  # yaml still says tiny
    with pytest.raises(AssetError, match=r"does not match the VQGAN architecture 'tiny_ckpt'.*"
                                         r"shape mismatch\(es\).*first: encoder\.conv_in\.weight "
                                         r"\(64, 3, 3, 3\) vs \(32, 3, 3, 3\)"):
        load_vqgan(profile)


def test_offline_with_nothing_cached(sample_root, tmp_path, monkeypatch, capsys):
    cache, out = tmp_path / "empty-cache", tmp_path / "out"
    monkeypatch.setenv("TVIG_HOME", str(cache))
    rc = main(["generate", "--images", str(sample_root / "metal_nut" / "train" / "good"),
               "--category", "metal_nut", "--out", str(out), "--profile", "fast"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "not cached: clip_vit_b_32_openai, vqgan_imagenet_f16_16384; fetch them with: tvig " \
           "download clip_vit_b_32_openai vqgan_imagenet_f16_16384" in err
    assert _listing(cache) == [] and not out.exists()
