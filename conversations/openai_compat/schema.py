"""The schema of the /v1/ operations: their errors are OpenAI's, declared on
each view, not the project's format that drf-standardized-errors adds."""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from api.openapi import AutoSchema


class OpenAIAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        bodies: dict[str, Any] = SpectacularAutoSchema._get_response_bodies(  # type: ignore[no-untyped-call]
            self, direction
        )
        return bodies
