"""A provider that breaks the contract of conversations.providers as a test
tells it to: it streams the pieces given, then ends without the final Reply,
or raises what it was given."""

from collections.abc import AsyncGenerator


class StubProvider:
    name = "stub"
    remote = False
    model = "stub"

    def __init__(self, *pieces: str, end: Exception | None = None) -> None:
        self.pieces = pieces
        self.end = end

    async def stream(self, **_: object) -> AsyncGenerator[str]:
        for piece in self.pieces:
            yield piece
        if self.end is not None:
            raise self.end
