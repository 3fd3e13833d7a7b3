"""The notebook runs top to bottom on a tiny config in JupyterLab in a browser, as a person runs it,
so it cannot rot."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from conftest import TINY_RECIPE
from helpers import open_chromium

NOTEBOOK = Path(__file__).resolve().parent.parent / "createModel.ipynb"
# The notebook's sweep section, cut to seconds: two settings, one epoch.
SWEEP_OVERRIDES = json.dumps({"freeze_layers": [0, 1], "lora": [], "epochs": 1})


def test_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.browser
def test_run_all_cells_in_jupyterlab(tmp_path, tiny_distilbert, reviews_parquet):
    """As a person uses it: JupyterLab (127.0.0.1, its own token) opens the notebook in chromium,
    Run > Run All Cells runs it on the tiny configuration, and the saved notebook holds no error,
    a prediction, the metrics table and all three plots, beside the saved model and the sweep."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    # Every cell in the page (JupyterLab otherwise renders only those scrolled into view).
    settings = tmp_path / "lab_settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none"}'
    )
    token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "MODEL": str(tiny_distilbert),
        "DATA": str(reviews_parquet),
        "OUTPUT_DIR": str(tmp_path / "saved_model"),
        "TRAIN_OVERRIDES": json.dumps(TINY_RECIPE),
        "MPLBACKEND": "Agg",
        "SWEEP_OVERRIDES": SWEEP_OVERRIDES,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter_config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter_runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
    }
    command = [
        str(Path(sys.executable).parent / "jupyter"),
        "lab",
        "--no-browser",
        "--allow-root",  # CI runs as root
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = open(tmp_path / "jupyterlab.log", "w")  # noqa: SIM115 (closed below, after the server)
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(
            f"http://127.0.0.1:{port}/api/status?token={token}", server, 120, tmp_path / "jupyterlab.log"
        )
        with open_chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}", timeout=120_000)
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
            # Jupyter may ask which kernel to start, as it does a new user: the default one.
            select = page.locator(".jp-Dialog button", has_text="Select")
            kernel_idle = page.get_by_text("Python 3 (ipykernel) | Idle")
            select.or_(kernel_idle).first.wait_for(timeout=120_000)
            if select.is_visible():
                select.click()
            kernel_idle.wait_for(timeout=120_000)
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
            # The run is over when the kernel is idle and no cell waits ("[*]"): after an error the
            # cells below stay "[ ]", which the saved notebook's check below reports.
            try:
                page.wait_for_function(
                    """() => {
                        const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                        const idle = document.querySelector(".jp-Notebook-ExecutionIndicator[data-status='idle']");
                        return idle !== null && prompts.some(p => /\\[\\d+\\]/.test(p.innerText))
                            && !prompts.some(p => p.innerText.includes('*'));
                    }""",
                    timeout=600_000,
                )
            except Exception:
                page.screenshot(path=str(tmp_path / "jupyterlab_timeout.png"), full_page=True)
                raise
            page.keyboard.press("Control+s")
            page.wait_for_timeout(2000)
            page.screenshot(path=str(tmp_path / "jupyterlab.png"), full_page=True)
            assert page.locator(".jp-RenderedImage img").count() >= 2
            assert page.locator(".jp-RenderedHTMLCommon table", has_text="accuracy").count() >= 1
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    assert (tmp_path / "jupyterlab.png").stat().st_size > 20_000
    ran = nbformat.read(work / NOTEBOOK.name, as_version=4)
    outputs = [out for cell in ran.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [out for out in outputs if out.output_type == "error"]
    assert not errors, errors[0].get("evalue")
    assert all(cell.execution_count for cell in ran.cells if cell.cell_type == "code")
    html = "".join(out.get("data", {}).get("text/html", "") for out in outputs)
    assert "<table" in html and "accuracy" in html and "roc_auc" in html
    # Training curves, confusion matrix and the sweep's plot, shown inline.
    assert sum("image/png" in out.get("data", {}) for out in outputs) == 3
    printed = "".join(out.get("text", "") for out in outputs)
    assert "POSITIVE" in printed or "NEGATIVE" in printed
    assert (tmp_path / "saved_model" / "model.safetensors").is_file()
    assert (work / "sweep" / "sweep.json").is_file()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"JupyterLab exited with status {process.returncode} before answering:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer at {url} within {timeout:.0f} s")
