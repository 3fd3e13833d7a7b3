"""Refuse a request at once when the app's queue is full, before gradio does any work for it.

Why gradio's own refusal is slow under a burst (gradio 6.31, ``routes.py`` and ``queueing.py``):
``Queue.push`` does check the size first, but a request only gets there after FastAPI has parsed
and validated its whole JSON body into a ``PredictBody`` and resolved the route's dependencies,
one of which (``login_check``) is a plain function that FastAPI runs in the thread pool (40
threads, shared with the model's handlers and the validators). Under 200 requests at once every
refusal waits its turn for all of that, behind the admitted requests' validators, on the one event
loop, while the model holds the CPU: seconds, not milliseconds. gradio has no setting to refuse
earlier.

:class:`RefuseWhenFull` is a plain ASGI middleware that answers a queue-joining POST
(``/gradio_api/queue/join``, ``/gradio_api/call/<api>``) with gradio's own 503 and message when
the queue is already full, before the body is read. Limits:

* it reads gradio's private ``Blocks._queue`` (its length and ``max_size``): there is no public
  API for either, so a gradio upgrade may need this checked (tests/serving/test_app_robustness.py
  does, through the HTTP answers);
* it is a fast path, not the gate: a request that passes it can still be refused by gradio's own
  check a moment later (several requests may pass while the last place is being taken), with the
  same 503 and message; it never refuses a request that gradio would admit, except one arriving in
  the instant before a place frees;
* it runs inside gradio's CORS and compression middleware, so refusals still carry the headers
  those add.
"""

from __future__ import annotations

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

    def full(self) -> tuple[int, int] | None:
        queue = getattr(self.blocks, "_queue", None)
        size = getattr(queue, "max_size", None)
        if size is None:
            return None
        waiting = len(queue)
        return (size, waiting) if waiting >= size else None

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
        await self.app(scope, receive, send)
