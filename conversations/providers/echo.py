"""The default provider: deterministic, instant, no network."""

from typing import ClassVar


class EchoProvider:
    name: ClassVar[str] = "echo"

    def reply(self, *, message: str) -> str:
        return f"AI response to: {message}"
