"""A real browser: the interface served by Voila on loopback, driven by Playwright in Debian's
headless Chromium. Draws a digit with the mouse, reads the prediction shown, uploads a picture,
and saves a screenshot to reports/interface.png.

Run with `make test-browser` (which installs Chromium from Debian's packages when it is missing).
Playwright never downloads a browser here: it is pointed at /usr/bin/chromium.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import papermill
import pytest

from digitlib import config, interface, preprocess, synthetic

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # Voila, Chromium, and maybe a model trained for it
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def voila_page(request, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: run `make test-browser`, which installs it")
    folder = tmp_path_factory.mktemp("voila")
    model = config.MODELS_DIR / "cnn.keras"
    notebook = folder / "05_interface.ipynb"
    papermill.execute_notebook(
        str(config.NOTEBOOKS_DIR / "05_interface.ipynb"),
        str(notebook),
        prepare_only=True,
        parameters={
            "MODEL_PATH": str(model if model.exists() else request.getfixturevalue("trained_model_path")),
            "THRESHOLD_SAMPLES": 100,
            # the run's record and figures go here, not over the project's reports/
            "OUTPUT_DIR": str(folder / "run"),
        },
    )
    port = _free_port()
    environment = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(folder / "config"),
        JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
        JUPYTER_PATH=str(config.PROJ_ROOT / "digitlib"),
    )  # the offline template, as `make app` uses
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            str(notebook),
            "--template=offline",
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--VoilaConfiguration.file_allowlist=['.*']",
        ],
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "api/status", timeout=2)
            break
        except OSError:
            time.sleep(1)
    yield url
    server.terminate()
    server.wait(timeout=30)


def test_draw_and_upload_in_a_real_browser(voila_page, tmp_path, mnist):
    from playwright.sync_api import sync_playwright

    _, (x_test, y_test) = mnist
    upload = tmp_path / "seven.png"
    upload.write_bytes(preprocess.encode_image(x_test[int(np.flatnonzero(y_test == 7)[0])]))
    requests_outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS[1:], headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                else requests_outside.append(request.url)
            ),
        )
        page.goto(voila_page, timeout=300_000)
        canvas = page.locator("canvas").last
        canvas.wait_for(state="visible", timeout=300_000)
        page.locator(".digit-answer").first.wait_for(timeout=60_000)
        assert interface.BLANK_MESSAGE in page.locator(".digit-answer").first.inner_text()

        canvas.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        box = canvas.bounding_box()
        scale = box["width"] / interface.CANVAS_SIZE
        for stroke in synthetic.FOUR:  # draw a 4 with the mouse
            page.mouse.move(box["x"] + stroke[0][0] * scale, box["y"] + stroke[0][1] * scale)
            page.mouse.down()
            for start, end in zip(stroke, stroke[1:]):
                for t in np.linspace(0, 1, 12)[1:]:
                    page.mouse.move(
                        box["x"] + (start[0] + t * (end[0] - start[0])) * scale,
                        box["y"] + (start[1] + t * (end[1] - start[1])) * scale,
                    )
            page.mouse.up()
        try:
            page.wait_for_function(
                "() => document.querySelector('.digit-answer')?.innerText.trim() === '4'", timeout=60_000
            )
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise AssertionError(
                f"no 4 shown; the page says: {page.locator('.digit-answer').first.inner_text()!r} "
                f"(screenshot: {tmp_path / 'failure.png'})"
            ) from None
        assert "% confident" in page.locator(".digit-confidence").first.inner_text()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.widget-output img')].some(i => i.complete && i.naturalWidth > 0)",
            timeout=60_000,
        )  # the bar chart and the 28x28 input
        page.wait_for_timeout(1000)
        config.REPORTS_DIR.mkdir(exist_ok=True)
        page.locator(".digit-pad").first.screenshot(path=str(config.REPORTS_DIR / "interface.png"))

        with page.expect_file_chooser() as chooser:  # upload a picture, as a person would
            page.locator("button.widget-upload").first.click()
        chooser.value.set_files(str(upload))
        page.wait_for_function(
            "() => document.querySelector('.digit-answer')?.innerText.trim() === '7'", timeout=60_000
        )
        assert "seven.png" in page.inner_text("body")
        browser.close()
    assert requests_outside == [], f"the page fetched from outside this machine: {requests_outside[:5]}"
