"""A list endpoint whose serializer is built once per process, not per request."""

import functools
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn, TypeVar, cast

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

M = TypeVar("M", bound=Model)


class OneSerializerListAPIView(generics.ListAPIView[M]):
    """DRF's ListAPIView, rendering each page with one instance of its
    serializer_class shared by every request.

    DRF builds a serializer's fields anew for every request (a deep copy of
    each declared field, and ModelSerializer.get_fields): a tenth of the
    history list's time. Rendering keeps no state on the serializer, so
    requests can share one, as the chat's output does
    (conversations.serializers.chat_output); only for serializers that read
    no context (no request, no user), which a shared instance cannot have:
    one that tries fails at once (ImproperlyConfigured), rather than find
    nothing where it expected the request.
    """

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        items = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(items)
        render = self._shared_serializer().to_representation
        if page is None:
            return Response([render(item) for item in items])
        return self.get_paginated_response([render(item) for item in page])

    @classmethod
    @functools.cache
    def _shared_serializer(cls) -> serializers.BaseSerializer[M]:
        if cls.serializer_class is None:
            raise ImproperlyConfigured(f"{cls.__name__} needs a serializer_class.")
        # The stubs ask for a dict; DRF's fields only read it as a mapping.
        context = cast(dict[str, Any], _NoContext(cls.__name__))
        return cls.serializer_class(context=context)


class _NoContext(Mapping[str, Any]):
    """The context of a serializer shared by every request: reading it is an error."""

    def __init__(self, view: str) -> None:
        self._view = view

    def __getitem__(self, key: str) -> NoReturn:
        self._refuse()

    def __iter__(self) -> Iterator[str]:
        self._refuse()

    def __len__(self) -> int:
        self._refuse()

    def _refuse(self) -> NoReturn:
        raise ImproperlyConfigured(
            f"{self._view} shares one serializer between requests, so its "
            "serializer_class cannot read the context (the request, the user)."
        )
