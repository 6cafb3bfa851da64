"""OneSerializerListAPIView: one serializer for every request, which reads no context."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from api.list_views import OneSerializerListAPIView
from users.models import User


class _Plain(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ("username",)


class _ReadsTheRequest(serializers.ModelSerializer[User]):
    mine = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("username", "mine")

    def get_mine(self, user: User) -> bool:
        return bool(user == self.context["request"].user)


def _view(serializer_class):
    return type(
        "Users",
        (OneSerializerListAPIView,),
        {
            "serializer_class": serializer_class,
            "queryset": User.objects.order_by("username"),
            "authentication_classes": (),
            "permission_classes": (),
            "pagination_class": None,
        },
    ).as_view()


@pytest.mark.django_db
def test_every_request_is_rendered_by_one_serializer():
    User.objects.create_user(username="ada", password="a-long-password-1")
    view = _view(_Plain)
    first = view(APIRequestFactory().get("/"))
    second = view(APIRequestFactory().get("/"))

    assert first.data == second.data == [{"username": "ada"}]
    assert view.view_class._shared_serializer() is view.view_class._shared_serializer()


@pytest.mark.django_db
def test_a_serializer_that_reads_the_context_is_refused():
    ada = User.objects.create_user(username="ada", password="a-long-password-1")
    shared = _view(_ReadsTheRequest).view_class._shared_serializer()

    with pytest.raises(ImproperlyConfigured, match="cannot read the context"):
        shared.to_representation(ada)
