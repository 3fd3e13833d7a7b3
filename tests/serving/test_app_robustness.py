"""The app under pressure: a full queue refuses new requests with a clear message (before gradio
reads them), a failing request does not take the server down, and every request is answered or
refused.

The model is held at a gate (an Event) instead of being slowed by a sleep: the test knows when the
model is busy and, from the answers to its requests, when the queue is full, on any machine and
without reading gradio's private queue. No wall-clock bounds here: refusal latency under a burst of
200 is measured by benchmarks/load.py (docs/benchmarks.md).

    .venv/bin/python -m pytest tests/serving/test_app_robustness.py -q
"""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest
from gradio_client import Client

from imdb_sentiment import Classifier
from imdb_sentiment.serving.app import AppSettings, build_demo, launch
from imdb_sentiment.serving.refusals import RefuseWhenFull, joins_queue

QUEUE = 2
BURST = 12
WAIT_S = 120  # hang guards only


class GatedModel:
    """Delegates to a real Classifier; each call says it started (``entered``) and then waits for
    ``gate``, so the queue behind it fills and stays full until the test opens the gate."""

    def __init__(self, classifier):
        self.inner, self.entered, self.gate = classifier, threading.Semaphore(0), threading.Event()
        self.gate.set()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict(self, texts, batch_size=32):
        self.entered.release()
        assert self.gate.wait(WAIT_S), "the test never opened the gate"
        if any("explode" in t for t in texts):
            raise RuntimeError("simulated crash inside the model")
        return self.inner.predict(texts, batch_size=batch_size)


@pytest.fixture(scope="module")
def gated_app(trained_model_dir):
    model = GatedModel(Classifier.from_pretrained(trained_model_dir, device="cpu"))
    demo = build_demo(model, settings=AppSettings(queue_size=QUEUE, max_batch_size=1))
    launch(demo, port=None, prevent_thread_lock=True)
    yield demo, model
    demo.close()


def join(url: str, text: str) -> httpx.Response:
    """Put one /predict request in the queue; a 200 answer means it is in (gradio answers after
    the push), a 503 that the queue was full."""
    return httpx.post(f"{url}gradio_api/call/predict", json={"data": [text]}, timeout=WAIT_S)


def result(url: str, event_id: str) -> dict:
    stream = httpx.get(f"{url}gradio_api/call/predict/{event_id}", timeout=WAIT_S)
    event, data = stream.text.strip().splitlines()[-2:]
    assert event == "event: complete", stream.text
    return json.loads(data.removeprefix("data: "))[0]


def burst(url: str, texts: list[str]) -> list[tuple[str, str]]:
    """All ``texts`` at once through gradio_client, one client each: (outcome, message) per request."""
    results: list[tuple[str, str]] = [("", "")] * len(texts)
    clients = [Client(url, verbose=False, httpx_kwargs={"timeout": WAIT_S}) for _ in texts]
    together = threading.Barrier(len(texts))

    def one(i: int) -> None:
        together.wait(timeout=WAIT_S)
        try:
            results[i] = ("served", clients[i].predict(texts[i], api_name="/predict")["label"])
        except Exception as error:  # sorted by message below
            results[i] = ("failed", str(error))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_S)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    for client in clients:
        client.close()
    return results


def test_full_queue_refuses_every_new_request_and_serves_the_queued_ones(gated_app):
    demo, model = gated_app
    url = demo.local_url
    model.gate.clear()
    try:
        running = join(url, "a wonderful superb film 0")
        assert running.status_code == 200
        assert model.entered.acquire(timeout=WAIT_S), "the first request never reached the model"
        queued = [join(url, f"a wonderful superb film {i}") for i in range(1, QUEUE + 1)]
        assert [r.status_code for r in queued] == [200] * QUEUE  # now QUEUE wait behind the model
        refused = burst(url, [f"an awful boring film {i}" for i in range(BURST)])
        direct = join(url, "one more")
    finally:
        model.gate.set()
    assert refused == [("failed", refused[0][1])] * BURST and "Queue is full" in refused[0][1], refused
    assert direct.status_code == 503
    assert direct.json()["detail"] == f"Queue is full. Max size is {QUEUE} and size is {QUEUE}."
    # The requests in the queue are served, unaffected by the refusals.
    for response in [running, *queued]:
        assert result(url, response.json()["event_id"])["label"] == "POSITIVE"
    assert burst(url, ["a wonderful film"]) == [("served", "POSITIVE")]  # and the app serves on


def test_a_crash_inside_one_request_does_not_take_the_app_down(gated_app):
    demo, _ = gated_app
    ((outcome, message),) = burst(demo.local_url, ["this review will explode"])
    assert outcome == "failed" and "simulated crash" not in message  # no internals shown
    assert burst(demo.local_url, ["a wonderful superb film"]) == [("served", "POSITIVE")]


# ---- the middleware alone -------------------------------------------------------------------------


class FakeQueue(list):
    max_size = 2


class FakeBlocks:
    _queue = FakeQueue()


def run_middleware(path: str, method: str = "POST", waiting: int = 2) -> tuple[list[dict], bool]:
    """The messages RefuseWhenFull sends for one request, and whether it passed it on."""
    FakeBlocks._queue[:] = [None] * waiting
    passed, sent = [], []

    async def app(scope, receive, send):
        passed.append(scope["path"])

    async def receive():
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path}
    asyncio.run(RefuseWhenFull(app, FakeBlocks())(scope, receive, send))
    return sent, bool(passed)


def test_middleware_refuses_queue_joins_before_reading_the_body_and_passes_the_rest():
    sent, passed = run_middleware("/gradio_api/queue/join")
    assert not passed and sent[0]["status"] == 503
    assert json.loads(sent[1]["body"]) == {"detail": "Queue is full. Max size is 2 and size is 2."}
    assert run_middleware("/gradio_api/call/predict")[1] is False
    for path, method, waiting in [
        ("/gradio_api/queue/join", "POST", 1),  # room left
        ("/gradio_api/call/predict/abc", "GET", 2),  # reading a result
        ("/gradio_api/upload", "POST", 2),
        ("/", "GET", 2),
    ]:
        assert run_middleware(path, method, waiting) == ([], True), path
    assert joins_queue("/gradio_api/call/v2/what_if") and not joins_queue("/gradio_api/heartbeat/x")


def test_middleware_counts_requests_it_let_through_until_they_are_answered():
    # A burst must not all pass while gradio's validator runs and the queue still looks empty.
    FakeBlocks._queue[:] = [None]  # one place left of 2
    middleware = RefuseWhenFull(None, FakeBlocks())
    answers: list[int] = []

    async def main():
        in_validator, answer = asyncio.Event(), asyncio.Event()

        async def slow_app(scope, receive, send):  # gradio, busy validating the first request
            in_validator.set()
            await answer.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})

        async def send(message):
            if message["type"] == "http.response.start":
                answers.append(message["status"])

        async def receive():
            return {"type": "http.request", "body": b""}

        middleware.app = slow_app
        scope = {"type": "http", "method": "POST", "path": "/gradio_api/queue/join"}
        first = asyncio.create_task(middleware(scope, receive, send))
        await in_validator.wait()
        await middleware(scope, receive, send)  # refused: the last place is being taken
        answer.set()
        await first

    asyncio.run(main())
    assert answers == [503, 200] and middleware.joining == 0


def test_a_burst_is_refused_before_the_admitted_requests_take_the_event_loop():
    # Requests of a burst start as tasks in one loop turn; the admitted ones' parsing (synchronous
    # work on the loop, seconds in all under a busy CPU) must not come before the others' 503.
    FakeBlocks._queue[:] = []  # two places free
    middleware, order = RefuseWhenFull(None, FakeBlocks()), []

    async def gradio(scope, receive, send):  # its synchronous parsing starts at once
        order.append("admitted request parsed")
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def send(message):
        if message["type"] == "http.response.start" and message["status"] == 503:
            order.append("refused")

    async def receive():
        return {"type": "http.request", "body": b""}

    async def burst():
        middleware.app = gradio
        scope = {"type": "http", "method": "POST", "path": "/gradio_api/queue/join"}
        await asyncio.gather(*(middleware(scope, receive, send) for _ in range(5)))

    asyncio.run(burst())
    assert order == ["refused"] * 3 + ["admitted request parsed"] * 2
