"""Request bodies, read on the event loop for both of config/asgi.py's paths.

Django's ASGI handler reads a whole body, however long, into a temporary
file (on disk past FILE_UPLOAD_MAX_MEMORY_SIZE) before anything is checked,
the caller's credentials included; only when a view reads the body does
Django refuse one longer than DATA_UPLOAD_MAX_MEMORY_SIZE (413
`request_too_large`), from its Content-Length. Here no more is read than one
byte past that limit, so a client that sends gigabytes, logged in or not,
fills neither memory nor disk.

A body sent in chunks (Transfer-Encoding: chunked) has no Content-Length,
and Django's WSGI request, and DRF on either path, read as many bytes as
that header says: none. Such a body is given the length of what was read,
so the view sees it, and Django refuses it (413) when it is past the limit.
"""

import io
from collections.abc import Awaitable, Callable, MutableMapping
from typing import IO, Any

from django.conf import settings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


async def body_read(receive: Receive) -> IO[bytes] | None:
    """The body, up to one byte past the limit; None if the client left first."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        part = message.get("body", b"")
        if limit is not None:
            part = part[: limit + 1 - size]
        parts.append(part)
        size += len(part)
        if not message.get("more_body") or (limit is not None and size > limit):
            return io.BytesIO(b"".join(parts))


def scope_with_length(scope: Scope, body: IO[bytes]) -> Scope:
    """`scope`, with a Content-Length for a body that came without one."""
    headers = scope["headers"]
    if any(name.lower() == b"content-length" for name, _ in headers):
        return scope
    size = len(body.getvalue()) if isinstance(body, io.BytesIO) else 0
    if not size:
        return scope
    return {**scope, "headers": [*headers, (b"content-length", str(size).encode())]}
