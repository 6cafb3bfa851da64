"""Serializer fields shared by the apps."""

import re
from typing import Any

from rest_framework import serializers

# The characters str.strip() removes (str.isspace()), as a regex character
# class body: for schema patterns, where engines disagree on what \s means.
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# What schema.yml's formats take (RFC 9562's uuid, RFC 3339's full-date and
# date-time), in ASCII digits only: Python's own parsers read far more.
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
UUID_FORM = re.compile(UUID_PATTERN, re.A)
DATE_PATTERN = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
DATE_FORM = re.compile(DATE_PATTERN, re.A)
# The offset's own range too: Python reads +05:60 as +06:00.
DATE_TIME_FORM = re.compile(
    DATE_PATTERN + r"T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])",
    re.I | re.A,
)


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
    """A UUID written as schema.yml's `format: uuid` says: 8-4-4-4-12 hex
    digits, in either case.

    DRF's UUIDField also takes integers, and Python's UUID() any spelling:
    no hyphens, hyphens anywhere, braces, `urn:uuid:`, other scripts' digits,
    even an underscore or a leading space, read as another UUID.
    """

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not UUID_FORM.fullmatch(data):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictDateField(serializers.DateField):
    """A date as RFC 3339's full-date (schema.yml's `format: date`): YYYY-MM-DD.

    DRF's DateField also takes 20240105, 2024-W01-1, 2024-1-5 and other
    scripts' digits.
    """

    # One message whichever check refuses it (DRF's own lists the formats
    # Python reads).
    default_error_messages = {"invalid": "Date has wrong format. Use YYYY-MM-DD."}

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not DATE_FORM.fullmatch(value):
            self.fail("invalid")
        return super().to_internal_value(value)


class StrictDateTimeField(serializers.DateTimeField):
    """A date-time as RFC 3339 writes one (schema.yml's `format: date-time`):
    seconds, and an offset (`Z` or ±hh:mm), required; `t` and `z` may be
    lower case. A leap second (:60) is refused, as Python has none.

    DRF's DateTimeField also takes a date alone, week dates, missing seconds
    and, worst, no offset, read silently as UTC: a client that sent its
    local time would get a time hours off and no error.
    """

    # One message whichever check refuses it (DRF's own lists the formats
    # Python reads, seconds and offset optional).
    default_error_messages = {
        "invalid": "Datetime has wrong format. Use YYYY-MM-DDThh:mm:ss[.ffffff](Z|±hh:mm)."
    }

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not DATE_TIME_FORM.fullmatch(value):
            self.fail("invalid")
        return super().to_internal_value(value.upper())


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
