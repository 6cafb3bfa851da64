"""The admin: balances are read-only and change only through the ledgered action."""

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from rest_framework.test import APIClient

from tests.assertions import assert_ledger_matches_balance
from tests.factories import ConversationFactory, ExchangeFactory, UserFactory
from users.allowances import allowances_grant
from users.keys import key_create
from users.models import ApiKey, MonthlyAllowance, TokenTransaction, User

pytestmark = pytest.mark.django_db

USER_CHANGELIST_URL = reverse("admin:users_user_changelist")
ACTION_FORM_TEMPLATE = "admin/users/user/adjust_tokens.html"


def adjust_tokens(admin_client, *users, **form):
    """POST the adjust_tokens action; with `form` (amount, note), as if Apply was pressed."""
    data = {"action": "adjust_tokens", "_selected_action": [str(u.pk) for u in users]}
    if form:
        data |= {"apply": "Apply", **form}
    return admin_client.post(USER_CHANGELIST_URL, data)


def admin_adjustments(user):
    return TokenTransaction.objects.filter(user=user, kind=TokenTransaction.Kind.ADMIN_ADJUSTMENT)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def edward(db):
    return UserFactory(username="edward")


# --- the user pages ----------------------------------------------------------


def test_user_change_page_shows_the_balance_read_only(admin_client, edward):
    response = admin_client.get(reverse("admin:users_user_change", args=[edward.pk]))

    assert response.status_code == HTTPStatus.OK
    assert "tokens" not in response.context["adminform"].form.fields
    assert 'name="tokens"' not in response.content.decode()
    assert '<div class="readonly">4000</div>' in response.content.decode()


def test_user_change_form_ignores_a_posted_balance(admin_client, edward):
    url = reverse("admin:users_user_change", args=[edward.pk])

    response = admin_client.post(
        url, {"username": "edward", "is_active": "on", "tokens": "999999", "first_name": "Ed"}
    )

    assert response.status_code == HTTPStatus.FOUND
    edward.refresh_from_db()
    assert edward.first_name == "Ed"  # the form was saved...
    assert edward.tokens == 4000  # ...but not the balance
    assert not admin_adjustments(edward).exists()


def test_user_list_shows_balances(admin_client, edward):
    response = admin_client.get(USER_CHANGELIST_URL)

    assert response.status_code == HTTPStatus.OK
    assert edward in response.context["cl"].result_list
    assert '<td class="field-tokens">4000</td>' in response.content.decode()


# --- the adjust_tokens action ------------------------------------------------


def test_adjust_tokens_first_asks_for_the_amount_and_note(admin_client, edward):
    response = adjust_tokens(admin_client, edward)

    assert response.status_code == HTTPStatus.OK
    assert ACTION_FORM_TEMPLATE in [t.name for t in response.templates]
    html = response.content.decode()
    assert 'name="amount"' in html
    assert 'name="note"' in html
    assert f'name="_selected_action" value="{edward.pk}"' in html
    assert "edward: 4000 tokens" in html
    edward.refresh_from_db()
    assert edward.tokens == 4000
    assert not admin_adjustments(edward).exists()


def test_adjust_tokens_applies_the_amount_with_one_ledger_row(admin_client, edward):
    response = adjust_tokens(admin_client, edward, amount="250", note="Goodwill for outage")

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == USER_CHANGELIST_URL
    assert messages_of(response) == ["edward: balance is now 4250."]
    edward.refresh_from_db()
    assert edward.tokens == 4250
    adjustment = admin_adjustments(edward).get()
    assert adjustment.amount == 250
    assert adjustment.balance_after == 4250
    assert adjustment.note == "Goodwill for outage"
    assert not hasattr(adjustment, "exchange")
    assert_ledger_matches_balance(edward)


def test_adjust_tokens_can_remove_tokens(admin_client, edward):
    adjust_tokens(admin_client, edward, amount="-4000", note="Abuse")

    edward.refresh_from_db()
    assert edward.tokens == 0
    assert admin_adjustments(edward).get().amount == -4000
    assert_ledger_matches_balance(edward)


def test_adjust_tokens_applies_to_every_selected_user(admin_client, edward):
    edwina = UserFactory(username="edwina", balance=100)

    adjust_tokens(admin_client, edward, edwina, amount="50", note="Promo")

    edward.refresh_from_db()
    edwina.refresh_from_db()
    assert (edward.tokens, edwina.tokens) == (4050, 150)
    assert admin_adjustments(edward).count() == admin_adjustments(edwina).count() == 1
    assert_ledger_matches_balance(edward)
    assert_ledger_matches_balance(edwina)


def test_adjust_tokens_never_takes_a_balance_below_zero(admin_client, edward):
    response = adjust_tokens(admin_client, edward, amount="-4001", note="Too much")

    assert response.status_code == HTTPStatus.FOUND
    assert messages_of(response) == [
        "edward: the balance (4000) cannot go below zero; left unchanged."
    ]
    edward.refresh_from_db()
    assert edward.tokens == 4000
    assert not admin_adjustments(edward).exists()
    assert_ledger_matches_balance(edward)


def test_adjust_tokens_refused_for_one_user_still_applies_to_the_others(admin_client):
    poor = UserFactory(username="poor", balance=10)
    rich = UserFactory(username="rich", balance=1000)

    adjust_tokens(admin_client, poor, rich, amount="-100", note="Clawback")

    poor.refresh_from_db()
    rich.refresh_from_db()
    assert (poor.tokens, rich.tokens) == (10, 900)
    assert not admin_adjustments(poor).exists()
    assert admin_adjustments(rich).get().amount == -100
    assert_ledger_matches_balance(poor)
    assert_ledger_matches_balance(rich)


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"amount": "0", "note": "Nothing"}, "amount"),
        ({"amount": "ten", "note": "Typo"}, "amount"),
        ({"amount": "2000000000", "note": "Too big"}, "amount"),
        ({"amount": "10", "note": ""}, "note"),
    ],
)
def test_adjust_tokens_shows_the_form_again_on_bad_input(admin_client, edward, form, field):
    response = adjust_tokens(admin_client, edward, **form)

    assert response.status_code == HTTPStatus.OK
    assert ACTION_FORM_TEMPLATE in [t.name for t in response.templates]
    assert field in response.context["form"].errors
    edward.refresh_from_db()
    assert edward.tokens == 4000
    assert not admin_adjustments(edward).exists()


def test_admin_action_needs_a_staff_login(client, edward):
    response = adjust_tokens(client, edward, amount="1000", note="Free tokens")

    assert response.status_code == HTTPStatus.FOUND
    assert reverse("admin:login") in response.url
    edward.refresh_from_db()
    assert edward.tokens == 4000
    assert not admin_adjustments(edward).exists()


# --- the conversations app's pages -------------------------------------------


@pytest.mark.parametrize("model", ["conversations_conversation", "users_tokentransaction"])
def test_history_lists_load_and_cannot_add(admin_client, model):
    ExchangeFactory(message="hello there")

    response = admin_client.get(reverse(f"admin:{model}_changelist"))

    assert response.status_code == HTTPStatus.OK
    assert response.context["cl"].result_count >= 1
    assert response.context["has_add_permission"] is False
    add = admin_client.get(reverse(f"admin:{model}_add"))
    assert add.status_code == HTTPStatus.FORBIDDEN


def test_conversation_page_shows_its_exchanges_read_only(admin_client):
    conversation = ConversationFactory()
    ExchangeFactory(conversation=conversation, message="hello there")
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])

    response = admin_client.get(url)

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "hello there" in html
    assert "AI response to: hello there" in html
    assert 'name="title"' not in html
    assert 'name="exchanges-0-message"' not in html


def test_ledger_cannot_be_changed_or_deleted_from_the_admin(admin_client, edward):
    row = TokenTransaction.objects.get(user=edward)

    change = admin_client.post(
        reverse("admin:users_tokentransaction_change", args=[row.pk]),
        {"amount": "1000000", "kind": "admin_adjustment", "balance_after": "1000000"},
    )
    delete = admin_client.post(
        reverse("admin:users_tokentransaction_delete", args=[row.pk]), {"post": "yes"}
    )

    assert change.status_code == HTTPStatus.FORBIDDEN
    assert delete.status_code == HTTPStatus.FORBIDDEN
    row.refresh_from_db()
    assert row.amount == 4000
    assert_ledger_matches_balance(edward)


# --- permissions and usernames ------------------------------------------------


def test_staff_who_may_only_view_users_cannot_adjust_balances(client, edward):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    client.force_login(viewer)

    response = adjust_tokens(client, edward, amount="1000000", note="for me")

    assert response.status_code == HTTPStatus.OK  # the changelist, action refused
    assert not admin_adjustments(edward).exists()
    edward.refresh_from_db()
    assert edward.tokens == 4000


def test_renaming_to_a_name_taken_in_another_case_is_a_form_error(admin_client, edward):
    UserFactory(username="Ada")
    url = reverse("admin:users_user_change", args=[edward.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {key: value for key, value in form.initial.items() if value is not None}
    data |= {"username": "ADA", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}

    response = admin_client.post(url, data)

    assert response.status_code == HTTPStatus.OK
    assert "username" in response.context["adminform"].form.errors
    edward.refresh_from_db()
    assert edward.username == "edward"


def test_adding_a_name_taken_in_another_case_is_a_form_error(admin_client):
    UserFactory(username="élodie")

    response = admin_client.post(
        reverse("admin:users_user_add"),
        {
            "username": "ÉLODIE",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert "username" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="ÉLODIE").exists()


# --- API keys and allowances --------------------------------------------------


def test_staff_revoke_api_keys_and_the_key_stops_working_at_once(admin_client, edward):
    secret = key_create(user=edward, name="leaked").secret
    key = ApiKey.objects.get()
    listed = admin_client.get(reverse("admin:users_apikey_changelist"))
    assert listed.status_code == HTTPStatus.OK
    assert "leaked" in listed.content.decode()
    assert secret not in listed.content.decode()

    response = admin_client.post(
        reverse("admin:users_apikey_changelist"),
        {"action": "revoke", "_selected_action": [str(key.pk)]},
        follow=True,
    )

    assert messages_of(response) == ["Revoked 1 API keys."]
    key.refresh_from_db()
    assert key.revoked_at is not None
    balance = APIClient().get(reverse("balance"), HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert balance.status_code == HTTPStatus.UNAUTHORIZED


def test_api_keys_and_allowances_cannot_be_added_or_edited_in_the_admin(admin_client, edward):
    key = key_create(user=edward, name="k").key
    allowances_grant(allowance=5000)
    allowance = MonthlyAllowance.objects.get(user=edward)

    change = admin_client.post(
        reverse("admin:users_apikey_change", args=[key.pk]), {"daily_cap": "1"}
    )
    allowance_change = admin_client.post(
        reverse("admin:users_monthlyallowance_change", args=[allowance.pk]), {"amount": "9"}
    )

    assert admin_client.get(reverse("admin:users_apikey_add")).status_code == HTTPStatus.FORBIDDEN
    add_allowance = admin_client.get(reverse("admin:users_monthlyallowance_add"))
    assert add_allowance.status_code == HTTPStatus.FORBIDDEN
    assert allowance_change.status_code == HTTPStatus.FORBIDDEN
    assert change.status_code in {HTTPStatus.OK, HTTPStatus.FOUND}
    key.refresh_from_db()
    allowance.refresh_from_db()
    assert key.daily_cap is None
    assert allowance.amount == 1000
    listed = admin_client.get(reverse("admin:users_monthlyallowance_changelist"))
    assert listed.status_code == HTTPStatus.OK
