"""The course as a person sees it: JupyterLab in headless Chromium (Debian's, never a
downloaded one) opening the learner's copy of lesson 00 with its stored outputs rendered."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    """A JupyterLab server as `./lab open` starts it, on a free loopback port."""
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (the README's set-up command installs it)")
    from labkit import learner

    bindir = Path(sys.executable).parent
    port, token = free_port(), secrets.token_hex(12)
    home = tmp_path_factory.mktemp("jupyter")
    learner.sync(home / "learner")          # the learner's copies, as `./lab open` makes and serves them
    log = open(home / "server.log", "w")
    # Settings, workspaces and config of the test's own: a learner's saved workspace (notebooks
    # left open, panels moved) must not decide what this test sees.
    env = {**os.environ, **{var: str(home / var.lower()) for var in (
        "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR")}}
    server = subprocess.Popen(
        [bindir / "jupyter", "lab", "--allow-root", f"--config={ROOT}/etc/jupyter/jupyter_lab_config.py",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}/learner"],
        stdout=log, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/api/status?token={token}")
        yield f"{base}/lab/tree/{{}}?reset&token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_lesson_00_shows_its_stored_outputs(lab_url, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(lab_url.format("00-setup.ipynb"))
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        title = page.locator(".jp-MarkdownCell h1").first.inner_text()
        svg = page.locator(".jp-RenderedSVG img").first
        svg.wait_for(timeout=30_000)
        svg.scroll_into_view_if_needed()
        src = svg.get_attribute("src") or ""
        tables = page.locator(".jp-RenderedHTMLCommon table").count()
        text = page.locator(".jp-Notebook").inner_text()
        page.screenshot(path=str(tmp_path / "00-setup.png"))
        browser.close()
    assert title.startswith("00 · Setup")
    assert src.startswith("data:image/svg+xml"), "the course map is drawn, not shown as text"
    assert tables >= 2, "the doctor and engine tables render as HTML"
    assert "Digraph at 0x" not in text
    assert "✓" in text and "✅" not in text, "the doctor's marks are glyphs every common font has, not emoji"


def _wait_for(url: str, timeout: float = 60) -> None:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            direct.open(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
