"""Account endpoints: thin views over users.services."""

from typing import Any

from django.db.models import QuerySet
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import generics, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from api.openapi import (
    ErrorResponse401LoginSerializer,
    ErrorResponse401TokenSerializer,
    ErrorResponse503Serializer,
)
from users import keys, selectors, services
from users.authentication import KEY_OR_JWT, authenticated_user
from users.models import ApiKey, User
from users.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateInputSerializer,
    ApiKeySerializer,
    LoginInputSerializer,
    LoginOutputSerializer,
    PasswordChangeInputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    RegisterOutputSerializer,
    TokenPairSerializer,
    UsageQuerySerializer,
    UsageReportSerializer,
    UserSerializer,
)
from users.throttling import (
    LoginIPThrottle,
    LoginUsernameThrottle,
    PasswordChangeThrottle,
    RegisterThrottle,
)

TAG = "auth"
# The codes of the validators in AUTH_PASSWORD_VALIDATORS, which the schema
# generator cannot see: they run in the serializers' validate methods.
PASSWORD_VALIDATOR_CODES = [
    "password_too_similar",
    "password_too_short",
    "password_too_common",
    "password_entirely_numeric",
]
BAD_CREDENTIALS = OpenApiResponse(
    ErrorResponse401LoginSerializer, description="Wrong password or unknown username."
)
# The limits of log-in, registration and password change cannot be counted
# (the cache is down): refused rather than unlimited.
LIMITS_UNAVAILABLE = OpenApiResponse(
    ErrorResponse503Serializer,
    description="The rate limits cannot be checked for a moment; retry after Retry-After.",
)
BAD_REFRESH_TOKEN = OpenApiResponse(
    ErrorResponse401TokenSerializer,
    description="The refresh token is invalid, expired, already used or logged out.",
)


class TokenResponse(Response):
    """A response that carries tokens. Every such response is one of these, so
    this is the one place that keeps them out of every cache (RFC 6749,
    section 5.1): a browser's or a proxy's copy of a token pair would outlive
    a log-out."""

    def __init__(self, data: Any, status: int = status.HTTP_200_OK) -> None:
        super().__init__(data, status=status)
        # Cache-Control: no-store (with no-cache, must-revalidate, private), Expires now.
        add_never_cache_headers(self)


class PublicAPIView(APIView):
    """An endpoint for callers without an access token.

    It ignores any Authorization header, so a stale access token left in a
    client cannot block logging in again.
    """

    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)

    def get_authenticate_header(self, request: Request) -> str:
        # Keeps 401 a 401: without a challenge DRF would turn it into a 403.
        return f'{jwt_settings.AUTH_HEADER_TYPES[0]} realm="api"'


@extend_validation_errors(PASSWORD_VALIDATOR_CODES, field_name="password", methods=["post"])
@extend_validation_errors(["unique"], field_name="username", methods=["post"])
class RegisterView(PublicAPIView):
    """Create an account. It starts with the signup grant of tokens.

    Limited per client address (429 with Retry-After beyond it; 503 with
    Retry-After while the limit cannot be checked)."""

    throttle_classes = (RegisterThrottle,)

    @extend_schema(
        tags=[TAG],
        summary="Register",
        request=RegisterInputSerializer,
        responses={201: RegisterOutputSerializer, 503: LIMITS_UNAVAILABLE},
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(RegisterOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(PublicAPIView):
    """Exchange a username and password for an access/refresh token pair.

    Usernames match in any letter case. A wrong password and an unknown
    username get the same 401. Attempts are limited per client address and
    per username (429 with Retry-After beyond either; 503 with Retry-After
    while the limits cannot be checked).
    """

    throttle_classes = (LoginIPThrottle, LoginUsernameThrottle)

    @extend_schema(
        tags=[TAG],
        summary="Log in",
        request=LoginInputSerializer,
        responses={200: LoginOutputSerializer, 401: BAD_CREDENTIALS, 503: LIMITS_UNAVAILABLE},
    )
    def post(self, request: Request) -> Response:
        serializer = LoginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        login = services.user_login(**serializer.validated_data)
        return TokenResponse(_login_output(login))


def _login_output(login: services.LoginResult) -> Any:
    pair = _token_pair(access=login.access, refresh=str(login.refresh))
    return LoginOutputSerializer({**pair, "user": login.user}).data


def _token_pair(*, access: str, refresh: str) -> dict[str, Any]:
    lifetime = jwt_settings.ACCESS_TOKEN_LIFETIME
    return {
        "access": access,
        "refresh": refresh,
        "token_type": "Bearer",
        "expires_in": int(lifetime.total_seconds()),
    }


class RefreshView(PublicAPIView):
    """Exchange a refresh token for a new pair (with `token_type` and `expires_in`,
    as log-in gives). The old refresh token stops working."""

    @extend_schema(
        tags=[TAG],
        summary="Refresh tokens",
        request=RefreshInputSerializer,
        responses={200: TokenPairSerializer, 401: BAD_REFRESH_TOKEN},
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.token_refresh(refresh=serializer.validated_data["refresh"])
        return TokenResponse(TokenPairSerializer(_token_pair(**pair)).data)


class LogoutView(APIView):
    """End a session: the given refresh token (one of the caller's), every
    refresh token rotated from the same log-in, and their access tokens stop
    working at once. To end every session, use logout-all."""

    @extend_schema(
        tags=[TAG],
        summary="Log out",
        request=RefreshInputSerializer,
        responses={204: None},
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_logout(
            user=authenticated_user(request), refresh=serializer.validated_data["refresh"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """End every session of the caller, on every device: all access and refresh
    tokens issued so far stop working at once, including the one sent."""

    @extend_schema(tags=[TAG], summary="Log out everywhere", request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        services.user_logout_all(user=authenticated_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_validation_errors(PASSWORD_VALIDATOR_CODES, field_name="new_password", methods=["post"])
@extend_validation_errors(["wrong_password"], field_name="old_password", methods=["post"])
class PasswordChangeView(APIView):
    """Change the password, given the current one. Every token issued so far
    stops working at once, on every device; the response is a new pair (as
    log-in returns) so the client that made the change stays logged in.

    A wrong current password is 400 `wrong_password` on `old_password`; the
    new one must pass the same rules as at registration. Attempts count like
    log-in attempts at the account (429 with Retry-After beyond the limit;
    503 with Retry-After while it cannot be checked).
    """

    throttle_classes = (PasswordChangeThrottle,)

    @extend_schema(
        tags=[TAG],
        summary="Change password",
        request=PasswordChangeInputSerializer,
        responses={200: LoginOutputSerializer, 503: LIMITS_UNAVAILABLE},
    )
    def post(self, request: Request) -> Response:
        user = authenticated_user(request)
        serializer = PasswordChangeInputSerializer(data=request.data, context={"user": user})
        serializer.is_valid(raise_exception=True)
        login = services.user_password_change(user=user, **serializer.validated_data)
        return TokenResponse(_login_output(login))


class MeView(APIView):
    """The caller's account and current balance."""

    @extend_schema(tags=[TAG], summary="Current user", responses={200: UserSerializer})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(authenticated_user(request)).data)


@extend_schema(tags=["users"], summary="List users (staff only)")
class UserListView(generics.ListAPIView[User]):
    """Every registered account, newest first. Staff only."""

    permission_classes = (permissions.IsAdminUser,)
    serializer_class = UserSerializer

    def get_queryset(self) -> QuerySet[User]:
        return selectors.user_list()


@extend_schema(tags=["keys"])
@extend_validation_errors(["expires_in_the_past"], field_name="expires_at", methods=["post"])
class ApiKeyListView(generics.ListAPIView[ApiKey]):
    """Your API keys (not revoked), newest first; the keys themselves are never
    shown again, only their prefix.

    POST creates one: the response holds the key, this once. Send it as
    `Authorization: Bearer <key>` to chat, read the balance, history, ledger
    and usage. Managing keys takes a log-in's access token: a key gets 401.
    """

    serializer_class = ApiKeySerializer

    def get_queryset(self) -> QuerySet[ApiKey]:
        return selectors.api_key_list(user=authenticated_user(self.request))

    @extend_schema(summary="List API keys")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create an API key",
        request=ApiKeyCreateInputSerializer,
        responses={201: ApiKeyCreatedSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = ApiKeyCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = keys.key_create(user=authenticated_user(request), **serializer.validated_data)
        output = ApiKeyCreatedSerializer(new.key, context={"secret": new.secret})
        return TokenResponse(output.data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["keys"])
class ApiKeyDetailView(generics.RetrieveDestroyAPIView[ApiKey]):
    """One of your API keys. Deleting revokes it: the next request that sends
    it gets 401. Its charges stay in the ledger."""

    serializer_class = ApiKeySerializer

    def get_queryset(self) -> QuerySet[ApiKey]:
        return selectors.api_key_list(user=authenticated_user(self.request))

    @extend_schema(summary="Get an API key")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Revoke an API key", responses={204: None})
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().delete(request, *args, **kwargs)

    def perform_destroy(self, instance: ApiKey) -> None:
        keys.key_revoke(key=instance)


@extend_validation_errors(
    ["invalid", "after_to", "range_too_long"], field_name="from", methods=["get"]
)
@extend_validation_errors(["invalid"], field_name="to", methods=["get"])
@extend_validation_errors(["invalid_choice"], field_name="group", methods=["get"])
class UsageView(APIView):
    """What your chats cost, per UTC day or calendar month: tokens charged,
    refunded and net, and how many chats, from the ledger. `from` and `to`
    are dates, both included (at most 366 days by day, 120 months by month);
    every period of the range is listed, empty ones too. An API key sees the
    whole account's usage."""

    authentication_classes = KEY_OR_JWT

    @extend_schema(
        tags=["chat"],
        summary="Usage report",
        parameters=[UsageQuerySerializer],
        responses={200: UsageReportSerializer},
    )
    def get(self, request: Request) -> Response:
        query = UsageQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        report = selectors.usage_report(user=authenticated_user(request), **query.validated_data)
        return Response(UsageReportSerializer(report).data)
