"""The docs site: built offline (MkDocs), opened in headless Chromium, notebook figures rendered."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from nbfactory import write_chain

from tvig.cli import build_parser
from tvig.tutorial.docs import DOCS_PACKAGES, api_modules, cli_reference
from tvig.tutorial.setup_cell import REPO, colab_setup_cell, find_notebooks

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL = ("01_prompting", "02_variance_aware_vqgan", "03_iterative_integration", "04_detection")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING_DOCS = [p for p in DOCS_PACKAGES if importlib.util.find_spec(p.split(".")[0]) is None]


def test_cli_reference_covers_every_command():
    text = cli_reference()
    assert "`tvig notebooks run`" in text and "`tvig docs build`" in text
    assert "--fallback-tiny" in text
    top = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in top.choices:
        assert f"`tvig {name}`" in text, name


def test_api_reference_lists_modules():
    mods = api_modules()
    assert {"tvig.tutorial.runner", "tvig.profiles", "tvig.tutorial.docs"} <= set(mods)
    assert not any(m.startswith("tvig.cli") for m in mods)


def test_setup_cell_documented_and_badges_point_at_notebooks():
    header = (REPO_ROOT / "docs" / "notebook_header.md").read_text()
    assert colab_setup_cell() in header  # the documented cell is the real one
    readme = (REPO_ROOT / "README.md").read_text()
    for stem in REAL:
        assert f"colab.research.google.com/github/{REPO}/blob/main/notebooks/{stem}.ipynb" in readme
        assert f"labpath=notebooks%2F{stem}.ipynb" in readme
    assert "PLACEHOLDER" in readme


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_chain) -> Path:
    if MISSING_DOCS:
        pytest.skip(f"docs packages not installed ({', '.join(MISSING_DOCS)}): pip install -e '.[docs]'")
    from tvig.tutorial.docs import build_site

    tmp = tmp_path_factory.mktemp("docs")
    assert {nb.stem for nb in find_notebooks(REPO_ROOT / "notebooks")} >= set(REAL)
    out, res = tiny_chain  # the real chain executed with tiny (test_runner checks it)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    index = build_site(tmp / "site", executed=out / "sample" / "brick", log=lambda s: None)
    assert index.is_file()
    return index.parent


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium "
                    "chromium-driver; .ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (dev extra)")
    import tempfile

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="tvig-chromium-")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--no-first-run", "--disable-sync",
              "--disable-dev-shm-usage", f"--user-data-dir={profile}",
              "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost"):  # never the network
        opts.add_argument(a)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER),
                              options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _local_images(driver) -> list[dict]:
    """src, loaded and width of every image that is not a remote badge."""
    return driver.execute_script("""
        return Array.from(document.images)
          .filter(i => !/^https?:/.test(i.getAttribute('src') || ''))
          .map(i => ({src: (i.getAttribute('src') || '').slice(0, 60), ok: i.complete && i.naturalWidth > 0,
                      data: (i.getAttribute('src') || '').startsWith('data:image/')}));""")


@pytest.mark.slow
def test_site_in_headless_chromium(site, browser):
    from selenium.webdriver.common.by import By

    browser.get((site / "index.html").as_uri())
    assert "tvig" in browser.title
    assert "Text-guided variational image generation" in browser.find_element(By.TAG_NAME, "body").text

    browser.get((site / "method.html").as_uri())
    imgs = _local_images(browser)
    assert any("modules.png" in i["src"] and i["ok"] for i in imgs), imgs

    browser.get((site / "notebooks" / "index.html").as_uri())
    links = sorted({a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "article a")
                    if (a.get_attribute("href") or "").endswith(".html")
                    and Path(a.get_attribute("href")).name[:2].isdigit()})
    assert len(links) >= 4, links
    with_figures = 0
    for url in links:
        browser.get(url)
        text = browser.find_element(By.TAG_NAME, "body").text
        assert "RANDOM WEIGHTS" in text, url  # outputs from tiny say so
        imgs = _local_images(browser)
        assert all(i["ok"] for i in imgs), (url, [i for i in imgs if not i["ok"]])
        with_figures += any(i["data"] and i["ok"] for i in imgs)
    assert with_figures >= 1  # at least one notebook shows a rendered matplotlib figure

    browser.get((site / "cli.html").as_uri())
    assert "tvig notebooks run" in browser.find_element(By.TAG_NAME, "body").text
    browser.get((site / "api.html").as_uri())
    assert "run_notebooks" in browser.find_element(By.TAG_NAME, "body").text


@pytest.mark.slow
def test_site_builds_when_a_notebook_fails_mid_chain(tmp_path):
    """Notebooks after a failed one have no executed copy: their source is shown, flagged."""
    if MISSING_DOCS:
        pytest.skip(f"docs packages not installed ({', '.join(MISSING_DOCS)})")
    from tvig.tutorial.docs import build_site

    nbs = write_chain(tmp_path / "nbs")
    py = nbs / "02_dummy_latent.py"
    py.write_text(py.read_text().replace('fail_on = ""', 'fail_on = "brick"'))
    (nbs / "02_dummy_latent.ipynb").unlink()  # the runner converts a .py-only notebook
    index = build_site(tmp_path / "site", notebooks_dir=nbs, log=lambda s: None)
    listing = (tmp_path / "site-build" / "src" / "notebooks" / "index.md").read_text()
    assert "failed in the docs run: 02_dummy_latent" in listing
    page = (tmp_path / "site-build" / "src" / "notebooks" / "04_dummy_detect.ipynb").read_text()
    assert "Not executed for the docs" in page and index.is_file()
