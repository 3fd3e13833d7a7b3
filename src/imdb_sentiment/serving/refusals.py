"""Refuse a request at once when the app's queue is full, before gradio does any work for it.

Why gradio's own refusal is slow under a burst (gradio 6.31, ``routes.py`` and ``queueing.py``):
``Queue.push`` does check the size first, but a request only gets there after FastAPI has parsed
and validated its whole JSON body into a ``PredictBody`` and resolved the route's dependencies,
one of which (``login_check``) is a plain function that FastAPI runs in the thread pool (40
threads, shared with the model's handlers and the validators). Under 200 requests at once every
refusal waits its turn for all of that, behind the admitted requests' validators, on the one event
loop, while the model holds the CPU: seconds, not milliseconds. gradio has no setting to refuse
earlier. Worse, ``push`` checks the size *before* it awaits the validator and adds the request
only after it: requests arriving together all pass the check while the queue is still empty, so a
burst of 200 was all admitted, far past ``max_size`` (measured: 200 of 200, with a queue of 64).

:class:`RefuseWhenFull` is a plain ASGI middleware that answers a queue-joining POST
(``/gradio_api/queue/join``, ``/gradio_api/call/<api>``) with gradio's own 503 and message when
the queue is already full, before the body is read. Limits:

* it reads gradio's private ``Blocks._queue`` (its length and ``max_size``): there is no public
  API for either, so a gradio upgrade may need this checked (tests/serving/test_app_robustness.py
  does, through the HTTP answers);
* it is the gate: it counts the queue-joining requests it has let through whose answer has not
  started yet (they are in gradio's validator or parsing) as places taken, so a burst cannot all
  pass while the queue looks empty. A let-through request the validator then refuses (a blank
  review) held a place for that moment only. One event loop runs it, so the count needs no lock;
* a burst's requests start as tasks in one turn of the event loop, in arrival order; an admitted
  one yields once before handing over to gradio, so the refused ones behind it get their 503 before
  gradio's parsing of the admitted ones (synchronous work on the loop, about 14 ms each on a busy
  2-core CPU) delays them: measured, refusal p99 0.94 s without the yield, 0.36 s with it;
* it counts the requests of every endpoint together, as gradio's ``max_size`` does;
* it runs inside gradio's CORS and compression middleware, so refusals still carry the headers
  those add.
"""

from __future__ import annotations

import asyncio
import json

QUEUE_JOIN_PATHS = ("/queue/join",)
CALL_PREFIX = "/call/"


def joins_queue(path: str) -> bool:
    """True for the POST paths that put a request into gradio's queue (after the API prefix)."""
    path = path.rstrip("/")
    return path.endswith(QUEUE_JOIN_PATHS) or CALL_PREFIX in path


class RefuseWhenFull:
    """ASGI middleware: a 503 with gradio's "Queue is full" message, sent before the body is read."""

    def __init__(self, app, blocks):
        self.app, self.blocks = app, blocks
        self.joining = 0  # let through, not yet answered: in gradio's parsing or validator

    def full(self) -> tuple[int, int] | None:
        queue = getattr(self.blocks, "_queue", None)
        size = getattr(queue, "max_size", None)
        if size is None:
            return None
        waiting = len(queue) + self.joining
        return (size, min(waiting, size)) if waiting >= size else None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("method") == "POST" and joins_queue(scope.get("path", "")):
            full = self.full()
            if full is not None:
                body = json.dumps(
                    {"detail": f"Queue is full. Max size is {full[0]} and size is {full[1]}."}
                ).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({"type": "http.response.start", "status": 503, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            self.joining += 1
            answered = False
            # Yield once before gradio's work: the requests of a burst arrive as tasks started in
            # the same loop turn, and this lets every one of them reach the check above (and the
            # refused ones their 503) before the admitted ones spend the loop on parsing.
            await asyncio.sleep(0)

            async def send_and_count(message):
                nonlocal answered
                if message["type"] == "http.response.start" and not answered:
                    answered = True  # a 200 means gradio has put it in its queue: counted there now
                    self.joining -= 1
                await send(message)

            try:
                await self.app(scope, receive, send_and_count)
            finally:
                if not answered:
                    self.joining -= 1
            return
        await self.app(scope, receive, send)
