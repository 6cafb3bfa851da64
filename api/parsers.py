"""The API's only parser: JSON, with hostile nesting refused as a parse error."""

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            # Thousands of nested brackets exhaust the decoder's recursion.
            raise ParseError("JSON parse error - nested too deeply") from exc
