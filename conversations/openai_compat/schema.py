"""The schema of the /v1/ operations: their errors are OpenAI's, declared on
each view, not the project's format that drf-standardized-errors adds."""

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from api.openapi import AutoSchema


class OpenAIAutoSchema(AutoSchema):
    def _get_response_bodies(
        self, direction: Literal["request", "response"] = "response"
    ) -> dict[str, Any]:
        # drf-spectacular's own: only the responses the view declares.
        return SpectacularAutoSchema._get_response_bodies(self, direction)

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        # drf-standardized-errors adds examples of its error format to the
        # error statuses it knows; these answer in OpenAI's.
        for status, response in (operation or {}).get("responses", {}).items():
            if int(status) >= 400:
                for media in response.get("content", {}).values():
                    media.pop("examples", None)
        return operation
