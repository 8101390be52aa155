"""Download / verify / atomicity / corruption of assets, against file:// and a loopback server."""
import hashlib
import http.server
import os
import threading

import pytest

from tvig import assets
from tvig.errors import AssetError, AssetMissingError

PAYLOAD = os.urandom(3 * assets.CHUNK + 123)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TVIG_HOME", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    for n in [n for n in assets.REGISTRY if n.startswith("fake_")]:
        del assets.REGISTRY[n]


def fake(name, url, size=len(PAYLOAD), sha=SHA):
    return assets.register(assets.Asset(name, (assets.AssetFile("w.bin", (url,), size, sha),),
                                        licence="test", description="made-up test asset"))


@pytest.fixture
def source(tmp_path):
    p = tmp_path / "src" / "w.bin"
    p.parent.mkdir()
    p.write_bytes(PAYLOAD)
    return p


def test_download_file_url_verifies_and_is_present(home, source):
    fake("fake_ok", source.as_uri())
    assert not assets.is_present("fake_ok")
    [folder] = assets.download(["fake_ok"], progress=False, log=lambda s: None)
    assert (folder / "w.bin").read_bytes() == PAYLOAD
    assert assets.is_present("fake_ok")
    assert assets.require("fake_ok") == folder
    assert not list(folder.glob("*.part"))


def test_corrupt_download_leaves_nothing(home, source):
    fake("fake_bad", source.as_uri(), sha="0" * 64)
    with pytest.raises(AssetError, match="failed verification.*sha256"):
        assets.download(["fake_bad"], progress=False, log=lambda s: None)
    folder = home / "fake_bad"
    assert not (folder / "w.bin").exists() and not list(folder.glob("*.part"))


def test_truncated_download_rejected(home, tmp_path):
    short = tmp_path / "short.bin"
    short.write_bytes(PAYLOAD[:1000])
    fake("fake_short", short.as_uri())
    with pytest.raises(AssetError, match="size 1000 bytes, expected"):
        assets.download(["fake_short"], progress=False, log=lambda s: None)
    assert not (home / "fake_short" / "w.bin").exists()


def test_corrupted_cached_file_detected_and_redownloaded(home, source):
    fake("fake_re", source.as_uri())
    assets.download(["fake_re"], progress=False, log=lambda s: None)
    f = home / "fake_re" / "w.bin"
    f.write_bytes(b"x" + PAYLOAD[1:])  # same size, different content, new mtime
    assert not assets.is_present("fake_re")
    with pytest.raises(AssetError, match="sha256"):
        assets.require("fake_re")
    logs = []
    assets.download(["fake_re"], progress=False, log=logs.append)
    assert f.read_bytes() == PAYLOAD and any("downloading again" in s for s in logs)


def test_missing_offline_names_download_command(home):
    fake("fake_missing", "file:///nonexistent/w.bin")
    with pytest.raises(AssetMissingError) as e:
        assets.require("fake_missing")
    assert "tvig download fake_missing" in str(e.value) and "TVIG_HOME" in str(e.value)


def test_unreachable_source_keeps_no_file(home):
    fake("fake_gone", "file:///nonexistent/w.bin")
    with pytest.raises(AssetError, match="could not download"):
        assets.download(["fake_gone"], progress=False, log=lambda s: None)
    assert not (home / "fake_gone" / "w.bin").exists()


def test_unknown_asset_lists_valid_names(home):
    with pytest.raises(AssetError, match="valid assets: .*clip_vit_b_32_openai"):
        assets.require("nope")


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves PAYLOAD; honours Range so resume can be tested."""

    def do_GET(self):
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        type(self).requests.append(rng)

    def log_message(self, *a):
        pass


def test_http_download_resumes_partial_file(home):
    _RangeHandler.requests = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        fake("fake_http", f"http://127.0.0.1:{srv.server_address[1]}/w.bin")
        part = home / "fake_http" / "w.bin.part"
        part.parent.mkdir(parents=True)
        part.write_bytes(PAYLOAD[:5000])  # an interrupted earlier download
        assets.download(["fake_http"], progress=False, log=lambda s: None)
    finally:
        srv.shutdown()
    assert (home / "fake_http" / "w.bin").read_bytes() == PAYLOAD
    assert _RangeHandler.requests == ["bytes=5000-"] and not part.exists()


def test_cli_assets_and_download_help(cli, tmp_path):
    r = cli("assets", env={"TVIG_HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert "clip_vit_b_32_openai" in r.stdout and "tvig download" in r.stdout
    r = cli("download", "--help")
    assert r.returncode == 0 and "sha256" in r.stdout
    r = cli("download", "nope", env={"TVIG_HOME": str(tmp_path)})
    assert r.returncode == 2 and "valid assets" in r.stderr and "Traceback" not in r.stderr
