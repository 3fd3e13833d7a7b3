"""End to end in a real browser: Debian's chromium, driven by Playwright, types a review into the
app and reads the label. No browser is downloaded: `make browser` installs chromium (CI runs it)."""

from __future__ import annotations

import socket

import pytest

from imdb_sentiment import Classifier
from imdb_sentiment.serving.app import build_demo, launch

from helpers import open_chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url(trained_model_dir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = build_demo(
        Classifier.from_pretrained(trained_model_dir, device="cpu"), model_dir=trained_model_dir
    )
    launch(demo, port=port, prevent_thread_lock=True)
    yield demo.local_url
    demo.close()


@pytest.fixture(scope="module")
def page():
    with open_chromium() as browser:
        yield browser.new_page(viewport={"width": 1280, "height": 900})


def wait_for_label(page, expected: str) -> None:
    """Wait until the gr.Label's headline (its top class) reads ``expected``."""
    page.wait_for_function(
        "want => document.querySelector('#sentiment [data-testid=label-output-value]')"
        "?.innerText.trim() === want",
        arg=expected,
        timeout=60_000,
    )


def test_type_a_review_and_read_the_label(page, app_url, tmp_path):
    page.goto(app_url, wait_until="networkidle", timeout=120_000)
    assert "accuracy" in page.inner_text("body")  # the model card's headline metrics are on the page
    review = page.locator("#review textarea")
    label = page.locator("#sentiment")
    for text, expected in [
        ("the film was superb , the cast brilliant and the music wonderful .", "POSITIVE"),
        ("an awful , boring film . a dreadful waste of time .", "NEGATIVE"),
    ]:
        review.fill(text)
        page.locator("#classify").click()
        wait_for_label(page, expected)
        shown = label.inner_text()
        assert expected in shown and "NEGATIVE" in shown and "POSITIVE" in shown  # both classes
    page.screenshot(path=str(tmp_path / "label.png"), full_page=True)
    assert (tmp_path / "label.png").stat().st_size > 10_000

    review.fill("")
    page.locator("#classify").click()
    page.get_by_text("Please enter a review to classify.").first.wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "empty.png"))

    review.fill("a superb film .")  # and the app still answers
    page.locator("#classify").click()
    wait_for_label(page, "POSITIVE")
    # Under the label, the note on how far to trust it: 4 words is far shorter than a review, and
    # the tiny model's own check says it misreads negation.
    page.locator("#trust-note").get_by_text("Short input (4 words)").wait_for(timeout=30_000)
    review.fill("the film was not boring , a superb and brilliant cast .")
    page.locator("#classify").click()
    page.locator("#trust-note").get_by_text('Negation ("not")').wait_for(timeout=30_000)


def test_what_if_tab_compares_a_review_and_its_edit(page, app_url):
    page.goto(app_url, wait_until="networkidle", timeout=120_000)
    page.get_by_role("tab", name="What if").click()
    original = page.locator("#what-if-original textarea")
    edited = page.locator("#what-if-edited textarea")
    assert original.input_value() == "A gripping, beautifully acted film."  # the first example pair
    original.fill("the film was superb , the cast brilliant .")
    edited.fill("the film was awful , the cast boring .")
    page.locator("#what-if-compare").click()
    verdict = page.locator("#what-if-verdict")
    verdict.get_by_text("The verdict flipped: POSITIVE -> NEGATIVE").wait_for(timeout=60_000)
    diff = page.locator("#what-if-diff").inner_text()
    assert "superb" in diff and "awful" in diff and "boring" in diff
    for side in ("original", "edited"):  # both labels and both explanations are shown
        assert "POSITIVE" in page.locator(f"#what-if-{side}-label").inner_text()
        page.locator(f"#what-if-{side}-words").get_by_text("cast").first.wait_for(timeout=60_000)
    edited.fill("the film was superb , the cast brilliant and wonderful .")
    page.locator("#what-if-compare").click()
    verdict.get_by_text("The verdict stayed POSITIVE").wait_for(timeout=60_000)
