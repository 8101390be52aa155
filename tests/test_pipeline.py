"""``tvig.pipeline.generate`` / ``tvig generate`` end to end with the tiny profile: the manifest
matches the files, interrupted runs resume to the same set, bad inputs write nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tvig.errors import InputError
from tvig.integrator.writer import IMAGES_DIR, MANIFEST, MANIFEST_COLUMNS, STATE_DIR

PROMPT = "a photo of a metal nut"


@pytest.fixture(scope="module")
def profile(tiny):
    return tiny.replace(steps=2)  # fewer optimisation steps: same code path, faster


@pytest.fixture(scope="module")
def shots(sample_root) -> list[Path]:
    return sorted((sample_root / "metal_nut" / "train" / "good").glob("*.png"))[:2]


def _generate(shots, out, profile, **kw):
    from tvig.pipeline import generate

    lines: list[str] = []
    kw.setdefault("prompt", PROMPT)
    kw.setdefault("n", 6)
    res = generate(shots, "metal_nut", out, profile=profile, rounds=2, seed=1,
                   device="cpu", progress=False, log=lines.append, **kw)
    return res, lines


def _snapshot(out: Path) -> dict[str, bytes]:
    """Every output file's bytes (images, manifest), keyed by relative path."""
    files = sorted((out / IMAGES_DIR).iterdir()) + [out / MANIFEST]
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shots, profile):
    out = tmp_path_factory.mktemp("uninterrupted") / "set"
    res, lines = _generate(shots, out, profile)
    return out, res, lines


def test_manifest_rows_match_the_files(reference, profile):
    out, res, lines = reference
    rows = res.rows
    files = sorted(p.name for p in (out / IMAGES_DIR).iterdir())
    assert [r["file"] for r in rows] == files and len(files) == 6
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    # 2 rounds x keep 2, then the best 2 of a pool of 2 x oversample draws: all selected
    assert [r["source"] for r in rows] == ["kept"] * 4 + ["pooled"] * 2
    assert [r["rank"] for r in rows[4:]] == ["1", "2"]
    assert {r["pool_size"] for r in rows[4:]} == {str(2 * profile.oversample)}
    assert {r["pool_size"] for r in rows[:4]} == {"4"} and {r["component"] for r in rows} <= {"0", "1"}
    for r in rows:
        with Image.open(out / IMAGES_DIR / r["file"]) as im:
            assert im.size == (64, 64) and im.mode == "RGB"
        t, i, lat, total = (float(r[k]) for k in ("score_text", "score_img", "score_latent", "score"))
        assert total == pytest.approx(t + i - 0.1 * lat, abs=1e-5)  # a = b = 1, c = 0.1 (tiny)
        assert r["prompt"] == PROMPT and r["random_weights"] == "True"
        assert json.loads(r["profile_params"])["steps"] == 2
        assert json.loads(r["integrator_params"])["rounds"] == 2
        assert r["tvig_version"]
    kept = [float(r["score"]) for r in rows[:4]]
    assert kept == sorted(kept, reverse=True)
    assert {r["round"] for r in rows[:4]} <= {"1", "2"} and rows[4]["round"] == "2"
    assert any("RANDOM WEIGHTS" in line for line in lines)
    assert any(str(out / MANIFEST) in line for line in lines)
    assert not list(out.rglob(".tvig-tmp-*"))


def test_pooled_rows_are_the_best_of_their_pool(reference):
    from tvig.integrator.pool import PoolSelection
    from tvig.integrator.writer import POOL_STATE

    out, res, _ = reference
    pool = PoolSelection.load(out / STATE_DIR / POOL_STATE)
    written = pool.written()
    assert pool.scores.total[written].min() >= pool.scores.total[~written].max()
    pooled = [r for r in res.rows if r["source"] == "pooled"]
    assert [float(r["score"]) for r in pooled] == pytest.approx(
        pool.scores.total[pool.order].tolist())
    assert [int(r["seed"]) for r in pooled] == pool.seeds[pool.order].tolist()


def test_raw_draws_only_with_the_ablation_and_budgets_recorded(tmp_path, shots, profile):
    res, lines = _generate(shots, tmp_path / "raw", profile, n=4,
                           overrides={"raw_draws": True, "steps": 1, "keep": 1})
    rows = res.rows
    assert [r["source"] for r in rows] == ["kept", "kept", "raw", "raw"]  # 2 rounds x keep 1
    assert json.loads(rows[0]["overrides"]) == {"raw_draws": True, "steps": 1, "keep": 1,
                                                "rounds": 2}
    assert json.loads(rows[0]["profile_params"])["steps"] == 1
    assert json.loads(rows[0]["augmentations"])["hflip"] is False  # metal_nut: no mirrors
    assert any("raw_draws ablation" in line for line in lines)


def test_dry_run_json_shows_the_budget_and_writes_nothing(cli, sample_root, tmp_path):
    out = tmp_path / "never"
    r = cli("generate", "--images", sample_root / "metal_nut" / "train" / "good",
            "--category", "metal_nut", "--out", out, "--profile", "paper", "--steps", "3",
            "--candidates", "2", "--set", "rho=0.25", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["profile"]["steps"] == 3 and plan["profile"]["candidates"] == 2
    assert plan["profile"]["rho"] == 0.25 and plan["profile"]["name"] == "paper"
    assert plan["overrides"] == {"steps": 3, "candidates": 2, "keep": 1, "rho": 0.25}
    assert plan["augmentations"]["hflip"] is False and plan["components"] == len(plan["shots"])
    assert plan["optimisation_steps"] == 3 * plan["integrator"]["rounds"]
    assert plan["images"] == 32 and plan["images_from_pool"] == 32 - 3
    assert not out.exists()
    bad = cli("generate", "--images", sample_root / "metal_nut" / "train" / "good",
              "--category", "metal_nut", "--out", out, "--profile", "tiny", "--set",
              "rho=2", "--dry-run")
    assert bad.returncode == 2 and "rho" in bad.stderr and not out.exists()


def test_resume_after_a_crash_in_the_middle_of_a_round(tmp_path, shots, profile, reference,
                                                       monkeypatch):
    import tvig.integrator.rounds as rounds  # the integrator's reference to the optimiser

    real, calls = rounds.optimise, []

    def crashing(*a, **kw):
        calls.append(kw["seed"])
        if len(calls) == 2:  # round 2 is being optimised
            raise KeyboardInterrupt("simulated Ctrl-C in round 2")
        return real(*a, **kw)

    out = tmp_path / "set"
    monkeypatch.setattr(rounds, "optimise", crashing)
    with pytest.raises(KeyboardInterrupt):
        _generate(shots, out, profile)
    assert sorted(p.name for p in (out / STATE_DIR).iterdir()) == ["round_01.pt", "run.json"]
    assert not (out / MANIFEST).exists()
    monkeypatch.setattr(rounds, "optimise", real)
    res, _ = _generate(shots, out, profile)
    assert _snapshot(out) == _snapshot(reference[0])


def test_resume_after_a_crash_after_k_images(tmp_path, shots, profile, reference):
    out = tmp_path / "set"

    def crash(event, info):
        if event == "image" and info["index"] == 4:  # 5 images written, 1 sampled one left
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated"):
        _generate(shots, out, profile, callback=crash)
    written = sorted(p.name for p in (out / IMAGES_DIR).iterdir())
    assert written == [f"img_{i:04d}.png" for i in range(5)]
    from tvig import atomic

    assert [r["file"] for r in atomic.read_csv(out / MANIFEST)] == written  # only complete ones
    assert not list(out.rglob(".tvig-tmp-*"))
    # a redone image is a new file (atomic temp + rename): a new inode, whatever the clock says
    ident = lambda n: ((out / IMAGES_DIR / n).stat().st_ino, (out / IMAGES_DIR / n).stat().st_mtime_ns)  # noqa: E731
    before = {n: ident(n) for n in written}
    _generate(shots, out, profile)
    after = {n: ident(n) for n in written}
    assert before == after  # finished images were not redone
    assert _snapshot(out) == _snapshot(reference[0])


def test_a_different_run_into_the_same_folder_is_refused(reference, shots, profile):
    from tvig.pipeline import generate

    with pytest.raises(InputError, match="different run.*seed"):
        generate(shots, "metal_nut", reference[0], profile=profile, n=6, rounds=2, seed=2,
                 prompt=PROMPT, device="cpu", progress=False, log=lambda s: None)


def _bad_input(kind: str, tmp: Path) -> tuple[list[Path], str]:
    if kind == "missing path":
        return [tmp / "nope.png"], "not found"
    if kind == "text file named .png":
        p = tmp / "notes.png"
        p.write_text("these are my notes, not a picture")
        return [p], "not an image"
    if kind == "empty folder":
        d = tmp / "empty"
        d.mkdir()
        return [d], "no images"
    p = tmp / "dot.png"
    Image.new("RGB", (1, 1)).save(p)
    return [p], "too small"


@pytest.mark.parametrize("kind", ["missing path", "text file named .png", "empty folder",
                                  "1x1 image"])
def test_bad_inputs_give_clear_errors_and_write_nothing(kind, tmp_path, shots, profile,
                                                        monkeypatch):
    import tvig.models.clip
    import tvig.models.vqgan

    def no_models(*a, **k):
        raise AssertionError("a model was loaded before the inputs were validated")

    monkeypatch.setattr(tvig.models.clip, "load_clip", no_models)
    monkeypatch.setattr(tvig.models.vqgan, "load_vqgan", no_models)
    bad, message = _bad_input(kind, tmp_path)
    out = tmp_path / "out"
    with pytest.raises(InputError, match=message) as e:
        _generate([shots[0], *bad], out, profile)
    assert bad[0].name in str(e.value)
    assert not out.exists()


@pytest.mark.slow
def test_cli_generate_on_a_sample_class(cli, sample_root, tmp_path):
    out = tmp_path / "gen"
    r = cli("generate", "--images", sample_root / "metal_nut" / "train" / "good",
            "--category", "metal_nut", "--out", out, "--profile", "tiny", "--n", "6",
            "--report", "--quiet", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "RANDOM WEIGHTS" in r.stdout
    assert f"manifest: {out / MANIFEST}" in r.stdout
    assert len(list((out / IMAGES_DIR).glob("*.png"))) == 6
    assert (out / "prompt.json").is_file()
    rep = json.loads((out / "report.json").read_text())
    assert rep["n_images"] == 6 and -1 <= rep["mean_similarity"] <= 1 and rep["random_weights"]
    with Image.open(out / "contact_sheet.png") as im:
        assert im.width > 64 and im.height > 128


def test_cli_bad_image_is_one_clear_line(cli, tmp_path):
    bad = tmp_path / "scan.png"
    bad.write_text("not an image")
    r = cli("generate", "--images", bad, "--category", "metal_nut", "--out",
            tmp_path / "o", "--profile", "tiny")
    assert r.returncode == 2
    assert "not an image" in r.stderr and str(bad) in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_png_without_manifest_row_is_redone(tmp_path, shots, profile, reference):
    """A crash between writing a PNG and its manifest row: the rerun rewrites that image."""
    import shutil

    from tvig import atomic
    from tvig.integrator.writer import write_manifest

    out = tmp_path / "set"
    shutil.copytree(reference[0], out)
    rows = atomic.read_csv(out / MANIFEST)
    write_manifest(out / MANIFEST, rows[:3])  # rows 3..5 lost, their PNGs still there
    (out / IMAGES_DIR / "img_0003.png").write_bytes(b"half a png")  # and one is garbage
    _generate(shots, out, profile)  # rounds come from the checkpoints in .tvig-state
    assert _snapshot(out) == _snapshot(reference[0])
