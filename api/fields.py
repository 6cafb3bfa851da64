"""Serializer fields shared by the apps."""

from typing import Any

from rest_framework import serializers

# The characters str.strip() removes (str.isspace()), as a regex character
# class body: for schema patterns, where engines disagree on what \s means.
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


class StrictCharField(serializers.CharField):
    """A CharField that accepts only JSON strings of valid Unicode.

    DRF's CharField turns numbers into strings; an API whose contract says
    "string" should reject them. Lone surrogates ("\\ud800" in JSON) decode
    to Python strings that no database can store, so they are refused here
    rather than failing at INSERT time. The length limit holds for the
    string as sent, which is what schema.yml's maxLength states: DRF checks
    it only after trimming the ends' whitespace, so a name of 100 characters
    and a leading tab passed a limit of 100.
    """

    default_error_messages = {
        "invalid": "Not a valid string.",
        # DRF's own code for this (its validator would run too late, after
        # normalisation), so the schema documents it.
        "surrogate_characters_not_allowed": "Not valid Unicode text.",
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("surrogate_characters_not_allowed")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return str(super().to_internal_value(data))


class StrictUUIDField(serializers.UUIDField):
    """A UUIDField that accepts only strings (DRF's also takes integers)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField that accepts only JSON true and false (DRF's also takes "yes", 1, …)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that accepts only JSON integers (DRF's also takes "5",
    5.0 and true)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictFloatField(serializers.FloatField):
    """A FloatField that accepts only JSON numbers (DRF's also takes "0.5" and false)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return float(super().to_internal_value(data))
