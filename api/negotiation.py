"""Content negotiation with a fast path for the Accept headers API clients send."""

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

# JSON is the only renderer, so these need no parsing to answer.
JSON_ACCEPTED = {"", "*/*", "application/json"}
EVENT_STREAM = "text/event-stream"


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, skipped when the answer is JSON anyway.

    Parsing the Accept header on every request showed up in profiles; any
    other header still gets DRF's full negotiation, 406 included.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str] | Any:
        renderers = list(renderers)
        renderer = renderers[0]
        fast = (
            request.META.get("HTTP_ACCEPT", "") in JSON_ACCEPTED
            and renderer.format == "json"
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        )
        if fast:
            return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)


class EventStreamNegotiation(ContentNegotiation):
    """For endpoints that can answer with server-sent events.

    The stream itself is not a DRF response; everything else they answer
    (errors before the stream starts, non-streamed replies) is JSON, also
    for clients that accept only `text/event-stream`.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str] | Any:
        renderers = list(renderers)
        if EVENT_STREAM in request.META.get("HTTP_ACCEPT", ""):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
