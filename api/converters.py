"""Path converters, registered on import: the URLconfs name them by these constants."""

import uuid

from django.urls import register_converter

from api.fields import UUID_PATTERN

ID = "id"


class IdConverter:
    """An object's id in a path, a UUID as schema.yml's `format: uuid` takes
    it: 8-4-4-4-12 hex digits, in either case.

    Django's own `uuid` converter takes lower case only, so a client whose
    UUID library writes capitals got 404 for an object that exists.
    """

    regex = UUID_PATTERN

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value: uuid.UUID | str) -> str:
        return str(value)


register_converter(IdConverter, ID)
