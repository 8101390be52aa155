"""`tvig check` (issue 17): the gates fail on random weights, pass on oracles; unreadable files
are one line; results are recorded beside the assets and decide profile_or_tiny."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_safe_load import lightning_checkpoint

from tvig import assets
from tvig.cli import main
from tvig.gates.checks import backbone_gate, clip_gate, vqgan_gate
from tvig.gates.photos import PHOTOS, TEMPLATE, load_photos
from tvig.gates.run import ensure_checked, passed, write_records
from tvig.models.clip import load_clip, register_tiny_config
from tvig.models.vqgan import build_vqgan, write_taming_files
from tvig.profiles import PROFILES, VQGAN_ARCHS, VQGANArch, get_profile, profile_or_tiny

CLIP_FILE = "open_clip_model.safetensors"


@pytest.fixture(scope="module")
def photos():
    return load_photos(64)  # (13, 3, 64, 64)


@pytest.fixture
def standins(tmp_path, monkeypatch):
    """Real-architecture random weights in the real file formats, as the 'paper' profile:
    a tiny open_clip model as safetensors, a tiny VQGAN as model.yaml + a Lightning last.ckpt."""
    from safetensors.torch import save_file

    home = tmp_path / "cache"
    monkeypatch.setenv("TVIG_HOME", str(home))
    for name, files in (("test_clip", (CLIP_FILE,)), ("test_vqgan", ("model.yaml", "last.ckpt"))):
        monkeypatch.setitem(assets.REGISTRY, name, assets.Asset(
            name, tuple(assets.AssetFile(f, ("file:///none",)) for f in files), "test", name))
    arch = VQGANArch(**{**VQGAN_ARCHS["tiny"].__dict__, "name": "tiny_ckpt", "asset": "test_vqgan"})
    monkeypatch.setitem(VQGAN_ARCHS, "tiny_ckpt", arch)
    import open_clip

    register_tiny_config()
    with torch.random.fork_rng():
        torch.manual_seed(5)
        clip_model = open_clip.create_model("tvig-tiny-clip", pretrained=None)
    (home / "test_clip").mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in clip_model.state_dict().items()},
              str(home / "test_clip" / CLIP_FILE))
    vq = home / "test_vqgan"
    write_taming_files(build_vqgan("tiny", seed=5), vq)
    torch.save(lightning_checkpoint(build_vqgan("tiny", seed=5).state_dict()), vq / "last.ckpt")
    prof = get_profile("tiny").replace(name="paper", clip_asset="test_clip", vqgan="tiny_ckpt",
                                       random_weights=False)
    monkeypatch.setitem(PROFILES, "paper", prof)
    return home, prof


class OracleClip:
    """Maps each gate photo and its true name to the same one-hot vector."""

    device = torch.device("cpu")

    def __init__(self, photos: torch.Tensor) -> None:
        self.photos = photos

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        d = (x[:, None] - self.photos[None]).pow(2).flatten(2).mean(2)  # (B, N)
        return F.one_hot(d.argmin(1), len(PHOTOS)).float()

    def encode_texts(self, texts) -> torch.Tensor:
        labels = [TEMPLATE.format(p.name) for p in PHOTOS]
        return F.one_hot(torch.tensor([labels.index(t) for t in texts]), len(PHOTOS)).float()


def oracle_classifier(photos: torch.Tensor):
    def classify(x: torch.Tensor) -> torch.Tensor:
        idx = (x[:, None] - photos[None]).pow(2).flatten(2).mean(2).argmin(1)
        logits = torch.zeros(len(x), 1000)
        for k, i in enumerate(idx.tolist()):
            logits[k, PHOTOS[i].imagenet[0]] = 1.0
        return logits
    return classify


def test_gates_pass_on_oracles(photos):
    assert clip_gate(OracleClip(photos), photos).value == 1.0
    r = vqgan_gate(torch.nn.Identity(), photos)
    assert r.passed and r.value == pytest.approx(99.0)
    assert backbone_gate(oracle_classifier(photos), photos, model="oracle").value == 1.0


def test_gates_fail_on_random_weights(photos):
    r = clip_gate(load_clip(get_profile("tiny")), photos)
    assert not r.passed and r.value < 0.4 and r.note.startswith("wrong:")
    r = vqgan_gate(build_vqgan("tiny"), photos)
    assert not r.passed and r.value < 14
    torch.manual_seed(0)
    w = torch.randn(3 * 64 * 64, 1000)
    r = backbone_gate(lambda x: x.flatten(1) @ w, photos, model="random")
    assert not r.passed and r.note.startswith("missed:")


def test_check_on_random_standins_fails_and_is_recorded(standins, capsys):
    home, prof = standins
    assert assets.check_state("test_clip") == "present, not checked"
    rc = main(["check", "--profile", "paper", "--device", "cpu"])
    out = capsys.readouterr().out
    assert rc == 1
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert CLIP_FILE in rows["tvig-tiny-clip"] and "FAIL" in rows["tvig-tiny-clip"]
    assert "last.ckpt" in rows["tiny_ckpt"] and "FAIL" in rows["tiny_ckpt"]
    assert "wrong:" in out and "worst" in out and "gates FAIL" in out.splitlines()[-1]
    assert assets.check_state("test_clip") == assets.check_state("test_vqgan") == "check FAILED"
    main(["assets"])
    assert "check FAILED" in capsys.readouterr().out
    lines: list[str] = []
    assert profile_or_tiny("paper", log=lines.append).name == "tiny"
    assert "test_clip failed tvig check: tvig-tiny-clip zero-shot top-1" in "\n".join(lines)


def test_a_passing_record_is_used_until_the_file_changes(standins, photos, capsys):
    home, prof = standins
    results = [clip_gate(OracleClip(photos), photos), vqgan_gate(torch.nn.Identity(), photos)]
    assert passed(results)
    write_records(prof, results)
    assert assets.check_state("test_vqgan") == "checked"
    assert profile_or_tiny("paper", log=print).name == "paper"
    main(["assets"])
    assert "checked" in capsys.readouterr().out
    with open(home / "test_vqgan" / "last.ckpt", "ab") as f:  # another file now: sha256 differs
        f.write(b"\0")
    assert assets.check_state("test_vqgan") == "present, not checked"
    lines: list[str] = []
    assert profile_or_tiny("paper", log=lines.append).name == "tiny"
    assert "present, not checked (run: tvig check --profile paper)" in "\n".join(lines)
    # with a checker (what `make demo` passes) the check runs once and decides
    assert profile_or_tiny("paper", log=lines.append, check=lambda p: (True, "ok")).name == "paper"


def test_ensure_checked_runs_once_then_reads_the_record(standins, monkeypatch):
    calls = []
    import tvig.gates.run as run

    real = run.run_check
    monkeypatch.setattr(run, "run_check", lambda p, **k: calls.append(1) or real(p, **k,
                                                                                backbones=False))
    ok, why = ensure_checked("paper", log=lambda s: None)
    assert not ok and "FAIL" in why and calls == [1]
    ok, why = ensure_checked("paper", log=lambda s: None)
    assert not ok and "failed tvig check" in why and calls == [1]


def _damage(path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "html": b"<!DOCTYPE html><html><body>Log in</body></html>",
                      "truncated": data[: len(data) // 2]}[how])


@pytest.mark.parametrize("asset,file", [("test_clip", CLIP_FILE), ("test_vqgan", "last.ckpt"),
                                        ("test_vqgan", "model.yaml")])
@pytest.mark.parametrize("how", ["empty", "html", "truncated"])
def test_unreadable_files_are_one_line_exit_2(standins, capsys, asset, file, how):
    home, _ = standins
    _damage(home / asset / file, how)
    rc = main(["check", "--profile", "paper", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if line.startswith("tvig check: error")]
    assert rc == 2 and len(err) == 1, err
    assert str(home / asset / file) in err[0] and f"tvig download --force {asset}" in err[0]
    assert "Traceback" not in capsys.readouterr().err
    assert assets.check_state(asset) != "checked"
    lines: list[str] = []
    assert profile_or_tiny("paper", log=lines.append, check=ensure_checked).name == "tiny"
    assert any(str(home / asset / file) in line for line in lines)
