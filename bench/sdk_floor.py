"""The floor, relaying through the official SDK: what the SDK alone costs.

../shared/bench/limit_streams.py relays the model's stream with aiohttp and
parses its lines by hand. Issue 11 asks our chat to reach the model through
the official SDK (`AsyncOpenAI`), which builds each request and decodes the
stream's events itself. This module adds one relay to that app, `RELAY=sdk`,
which asks the model as our provider does
(conversations/providers/openai_compatible.py: the SDK's aiohttp transport,
no retries, the answer as the JSON sent, the usage asked for; it leaves out
the provider's request-id header and `max_tokens`) and does nothing more:
no authentication, database or billing. Measured beside the floor, it
splits our distance from the floor into the SDK's share and our own.

    UPSTREAM=http://127.0.0.1:8100 RELAY=sdk PYTHONPATH=.:../shared/bench \
        uvicorn bench.sdk_floor:application --workers 2

The shared app is imported and extended, not copied: the two floors differ
only in the relay.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx2

# ../shared/bench on PYTHONPATH, as above and as held_streams.floor_server
# sets it: not found through bench.processes, whose database drivers every
# worker would then load, and the floor's RSS count.
import limit_streams  # type: ignore[import-not-found]
import openai

# Long enough for any reply the benchmark's model writes.
TIMEOUT_SECONDS = 180
_client: openai.AsyncOpenAI | None = None


async def _pieces_sdk(message: str) -> AsyncIterator[str]:
    global _client
    if _client is None:
        _client = openai.AsyncOpenAI(
            base_url=f"{limit_streams.UPSTREAM}/v1",
            api_key="bench",
            timeout=TIMEOUT_SECONDS,
            max_retries=0,
            http_client=openai.DefaultAioHttpClient(
                timeout=TIMEOUT_SECONDS, limits=httpx2.Limits(max_connections=0)
            ),
        )
    body = limit_streams._request(message) | {"stream_options": {"include_usage": True}}
    stream: Any = await _client.post(
        "/chat/completions",
        body=body,
        cast_to=object,
        stream=True,
        stream_cls=openai.AsyncStream[object],
    )
    async with stream:
        async for chunk in stream:
            for choice in chunk.get("choices") or ():
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    yield piece


limit_streams._SOURCES["sdk"] = _pieces_sdk
application = limit_streams.application
