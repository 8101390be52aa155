"""The notebook runner (tvig notebooks run) on dummy notebooks, and the real chain when present."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest
import yaml
from nbfactory import write_chain, write_pair

from tvig.errors import ConfigError, InputError
from tvig.tutorial.runner import (
    RunConfig,
    declared_parameters,
    load_params_file,
    make_config,
    plan_run,
    run_notebooks,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Path:
    return write_chain(tmp_path_factory.mktemp("nbs"))


def _summary(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(out / "summary.csv", newline="") as f:
        return {(r["category"], r["notebook"]): r for r in csv.DictReader(f)}


def _injected(executed: Path) -> str:
    nb = nbformat.read(executed, as_version=4)
    cells = [c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    return cells[0] if cells else ""


@pytest.mark.slow
def test_cli_chain_params_failure_and_summary(chain, tmp_path, run_cli):
    """Two classes from a YAML file; 02 fails for metal_nut only: its chain stops, brick's goes on."""
    out = tmp_path / "out"
    params = tmp_path / "workshop.yaml"
    params.write_text(yaml.safe_dump({"sample": True, "categories": ["brick", "metal_nut"],
                                      "profile": "tiny", "shots": 3, "seed": 7, "out": str(out),
                                      "notebooks-dir": str(chain), "params": {"fail_on": "metal_nut"}}))
    res = run_cli("notebooks", "run", "--params", params, "--seed", "5", "--quiet", timeout=600)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "boom for metal_nut" in res.stdout  # the papermill error is shown
    assert "RANDOM WEIGHTS" in res.stdout  # tiny says so

    rows = _summary(out)
    assert [rows[("brick", s)]["status"] for s in ("01_dummy_prompt", "02_dummy_latent",
                                                   "03_dummy_generate", "04_dummy_detect")] == ["ok"] * 4
    assert [rows[("metal_nut", s)]["status"] for s in ("01_dummy_prompt", "02_dummy_latent",
                                                       "03_dummy_generate", "04_dummy_detect")] == \
        ["ok", "failed", "skipped", "skipped"]
    assert "boom for metal_nut" in rows[("metal_nut", "02_dummy_latent")]["error"]
    head = rows[("brick", "all")]
    assert head["status"] == "ok" and rows[("metal_nut", "all")]["status"] == "failed"
    assert head["prompt"] == "a photo of a brick"
    assert head["n_generated"] == "3"
    assert head["image_auroc"] == "real 0.600, generated 0.750"
    assert "| brick" in (out / "summary.md").read_text()

    run = out / "sample" / "brick"
    got = json.loads((run / "params-01.json").read_text())
    assert got["profile"] == "tiny" and got["category"] == "brick"
    assert got["shots"] == 3 and got["seed"] == 5  # YAML value, and the command line wins
    assert Path(got["out_dir"]) == run.resolve()
    assert Path(got["data_root"]) == (out / "sample-data").resolve()
    assert "fail_on" not in got  # only 02 declares it
    assert json.loads((run / "params-02.json").read_text())["fail_on"] == "metal_nut"
    assert "shots" not in json.loads((run / "params-03.json").read_text())  # 03 keeps its own
    assert "shots" not in _injected(run / "03_dummy_generate.ipynb")
    assert "image/png" in (run / "04_dummy_detect.ipynb").read_text()  # figures inline, not Agg
    failed = out / "sample" / "metal_nut" / "02_dummy_latent.ipynb"
    assert failed.exists() and "boom for metal_nut" in failed.read_text()  # kept, error marked
    assert not (out / "sample" / "metal_nut" / "03_dummy_generate.ipynb").exists()
    assert not list(out.rglob(".tvig-tmp-*"))


@pytest.mark.slow
def test_select_notebooks_and_data_root(chain, sample_root, tmp_path):
    out = tmp_path / "o"
    res = run_notebooks(RunConfig(data=sample_root, categories=["gravel"], notebooks=["1"],
                                  notebooks_dir=chain, out=out, progress=False), log=lambda s: None)
    assert res.ok
    assert [r.notebook for r in res.rows] == ["01_dummy_prompt", "all"]
    run = out / "folder" / "gravel"  # ROOT (samples0) is not a known dataset name: folder
    assert json.loads((run / "params-01.json").read_text())["data_root"] == str(sample_root.resolve())
    assert json.loads((run / "prompt.json").read_text())["prompt"] == "a photo of a gravel"


def test_params_file_and_precedence(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("profile: tiny\nshots: 5\ncategories: brick gravel\nsample: true\nfallback-tiny: true\n")
    cfg = make_config(load_params_file(f), {"shots": 2, "profile": None, "out": str(tmp_path)})
    assert (cfg.profile, cfg.shots, cfg.categories, cfg.fallback_tiny) == ("tiny", 2, ["brick", "gravel"], True)
    f.write_text("profil: tiny\n")
    with pytest.raises(ConfigError, match="profil.*valid keys"):
        load_params_file(f)
    with pytest.raises(InputError):
        load_params_file(tmp_path / "missing.yaml")


def test_bad_parameters_rejected_before_work(chain, tmp_path):
    with pytest.raises(ConfigError, match="--sample.*--data"):
        RunConfig(out=tmp_path)
    with pytest.raises(ConfigError, match="shots"):
        RunConfig(sample=True, shots=0)
    with pytest.raises(ConfigError, match="sample class"):
        plan_run(RunConfig(sample=True, categories=["bricks"], notebooks_dir=chain, out=tmp_path))
    with pytest.raises(ConfigError, match="nope"):
        plan_run(RunConfig(sample=True, params={"nope": 1}, notebooks_dir=chain, out=tmp_path))
    with pytest.raises(InputError, match="01_dummy_prompt"):
        plan_run(RunConfig(sample=True, notebooks=["07"], notebooks_dir=chain, out=tmp_path))
    with pytest.raises(ConfigError, match="profile"):
        plan_run(RunConfig(sample=True, profile="huge", notebooks_dir=chain, out=tmp_path))
    assert not (tmp_path / "sample").exists()  # nothing ran


def test_fallback_tiny_is_loud(chain, tmp_path):
    logs: list[str] = []
    plan = plan_run(RunConfig(sample=True, profile="paper", fallback_tiny=True, notebooks_dir=chain,
                              out=tmp_path), log=logs.append)
    assert plan.profile == "tiny" and plan.random_weights
    assert any("tvig download" in line for line in logs)


def test_declared_parameters_parsed_with_ast(tmp_path):
    nb = write_pair(tmp_path, "01_p", "x = 1", 'a = None  # None = default\nb: int = 2\nc = d = 3\n'
                    'e = {\n  "k": 1,  # x = y\n}\nimport os\nf: str')
    assert declared_parameters(nb) == {"a": "None", "b": "2", "c": "3", "d": "3",
                                       "e": '{\n  "k": 1,  # x = y\n}'}
    bad = write_pair(tmp_path, "02_bad", "x = 1", "a = (")
    with pytest.raises(InputError, match="parameters cell"):
        declared_parameters(bad)


def test_py_only_notebook_is_staged_with_kernel(tmp_path):
    write_pair(tmp_path / "nbs", "01_only_py", "x = 1", "category = 'a'")
    (tmp_path / "nbs" / "01_only_py.ipynb").unlink()
    plan = plan_run(RunConfig(sample=True, notebooks_dir=tmp_path / "nbs", out=tmp_path / "o"))
    assert list(plan.declared["01_only_py"]) == ["category"]


REAL = ("01_prompting", "02_variance_aware_vqgan", "03_iterative_integration", "04_detection")


@pytest.mark.slow
def test_real_chain_tiny_on_a_sample_class(tiny_chain):
    """The four real notebooks, chained by the CLI (two classes: the dummy chain above)."""
    out, res = tiny_chain
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    rows = _summary(out)
    assert {cat for cat, _ in rows} == {"brick"}
    run = out / "sample" / "brick"
    for s in REAL:
        assert (run / f"{s}.ipynb").exists() and rows[("brick", s)]["status"] == "ok"
    assert json.loads((run / "prompt.json").read_text())["prompt"].strip()
    manifest = list(csv.DictReader(open(run / "generated" / "manifest.csv", newline="")))
    pngs = list((run / "generated" / "images").glob("*.png"))
    assert manifest and len(pngs) >= len(manifest) > 0
    results = list(csv.DictReader(open(run / "detection" / "results.csv", newline="")))
    auroc = [k for k in results[0] if "auroc" in k.lower()]
    assert auroc and all(0.0 <= float(r[auroc[0]]) <= 1.0 for r in results)
    assert rows[("brick", "all")]["prompt"] and rows[("brick", "all")]["image_auroc"]
