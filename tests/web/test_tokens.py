"""The web client's tokens against a live server whose access tokens live 2
seconds: refreshed silently while chatting, in two tabs at once without ever
presenting a refresh token twice (which would end the session), and the
account's other ends: a password change, log-out in another tab, log out
everywhere. Plus the account form's messages for each error code."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.fake_openai import FakeOpenAI
from tests.server import LiveServer, live_server
from tests.web.browser import BROWSER_TESTS, DESKTOP, Tab, model_env, open_tab
from tests.web.test_chat import PASSWORD, log_in, register, send, wait_for_reply

pytestmark = BROWSER_TESTS

ACCESS_SECONDS = 2
LOGIN_LIMIT = 5
SESSION_ENDED = "Your session has ended: log in again."
# Go to a page of the client at a moment given in milliseconds since the epoch.
AT_THE_SAME_MOMENT = """([at, hash]) => {
  setTimeout(() => { location.hash = hash; }, at - Date.now());
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any, model: FakeOpenAI) -> Iterator[LiveServer]:
    env = model_env(
        model,
        JWT_ACCESS_LIFETIME_SECONDS=str(ACCESS_SECONDS),
        THROTTLE_LOGIN_USERNAME=f"{LOGIN_LIMIT}/min",
    )
    with live_server(tmp_path_factory.mktemp("web-tokens"), env=env) as running:
        yield running


def expire() -> None:
    """Wait until every access token issued so far has expired."""
    time.sleep(ACCESS_SECONDS + 0.5)


def assert_session_alive(server: LiveServer, tab: Tab) -> None:
    """The session was not revoked: its refresh token still gets a pair."""
    token = tab.stored_refresh()
    assert token is not None
    result = server.request("POST", "/api/v1/auth/refresh/", {"refresh": token})
    assert result.status == 200, result


def test_the_client_refreshes_silently_while_chatting(
    context: BrowserContext, server: LiveServer
) -> None:
    tab = open_tab(context, server.url + "/")
    page = tab.page
    register(tab, "patient")
    expect(page.locator("#balance")).to_have_text("4000")

    for n in range(3):
        expire()
        send(page, f"message {n}")
        wait_for_reply(page, f"You said: message {n}")
    expire()
    page.get_by_role("link", name="Ledger").click()
    expect(page.locator("#ledger-rows tr")).to_have_count(4)

    assert len(tab.refreshes) >= 4
    assert len(set(tab.refreshes)) == len(tab.refreshes)
    expect(page.locator("#notice")).to_be_hidden()
    assert tab.violations() == []
    assert_session_alive(server, tab)


def test_two_tabs_refresh_at_once_and_both_stay_logged_in(
    context: BrowserContext, server: LiveServer
) -> None:
    first = open_tab(context, server.url + "/")
    register(first, "twotabs")
    expect(first.page.locator("#balance")).to_have_text("4000")
    second = open_tab(context, server.url + "/")
    expect(second.page.locator("#balance")).to_have_text("4000")

    for page in ("#/account", "#/ledger", "#/account", "#/ledger"):
        expire()
        # Both tabs ask at the same moment with expired access tokens: both
        # get 401 token_not_valid and want a refresh at once.
        at = time.time() * 1000 + 300
        for tab in (first, second):
            tab.page.evaluate(AT_THE_SAME_MOMENT, [at, page])
        for tab in (first, second):
            expect(tab.page.locator("#account-bar")).to_be_visible()
            if page == "#/ledger":
                expect(tab.page.locator("#ledger-rows tr")).to_have_count(1)
            else:
                expect(tab.page.locator("#account-username")).to_have_text("twotabs")

    presented = first.refreshes + second.refreshes
    # Every round the tokens had expired: each round took a refresh, and each
    # tab was refused and went on, with a refresh of its own or the one the
    # other tab shared. (A tab's timer may fire a little late, after the other
    # tab's new token has reached it: then it is not refused that round.)
    assert len(presented) >= 4
    assert first.refused >= 1
    assert second.refused >= 1
    # No refresh token was ever presented twice: the session lives.
    assert len(set(presented)) == len(presented), presented
    for tab in (first, second):
        expect(tab.page.locator("#notice")).to_be_hidden()
        assert tab.violations() == []
    assert_session_alive(server, first)


def test_log_out_in_one_tab_logs_out_the_other(context: BrowserContext, server: LiveServer) -> None:
    first = open_tab(context, server.url + "/")
    register(first, "leaver")
    expect(first.page.locator("#balance")).to_have_text("4000")
    second = open_tab(context, server.url + "/")
    expect(second.page.locator("#balance")).to_have_text("4000")

    # With the access token expired, log-out needs a refresh first: it must
    # end the session with the token that refresh gave, not the spent one.
    expire()
    first.page.get_by_role("button", name="Log out").click()

    for tab in (first, second):
        expect(tab.page.get_by_role("heading", name="Log in")).to_be_visible()
        expect(tab.page.locator("#account-bar")).to_be_hidden()
        assert tab.stored_refresh() is None
    last = (first.issued + second.issued)[-1]
    refresh = server.request("POST", "/api/v1/auth/refresh/", {"refresh": last})
    assert refresh.status == 401


def test_a_password_change_keeps_this_browser_and_ends_the_others(
    browser: Browser, context: BrowserContext, server: LiveServer
) -> None:
    here = open_tab(context, server.url + "/")
    register(here, "changer")
    expect(here.page.locator("#balance")).to_have_text("4000")
    other_device = browser.new_context(viewport=DESKTOP)
    try:
        there = open_tab(other_device, server.url + "/")
        log_in(there, "changer")
        expect(there.page.locator("#balance")).to_have_text("4000")
        here.page.get_by_role("link", name="Account").click()
        form = here.page.locator("#password-form")

        # The rules, each said where it applies.
        form.get_by_label("Current password").fill("not-my-password")
        form.get_by_label("New password").fill("another-horse-battery")
        form.get_by_role("button", name="Change password").click()
        expect(here.page.locator("#old-password-error")).to_have_text(
            "Your current password is not right."
        )
        form.get_by_label("Current password").fill(PASSWORD)
        form.get_by_label("New password").fill("12345678901")
        form.get_by_role("button", name="Change password").click()
        expect(here.page.locator("#new-password-error")).to_contain_text("entirely numeric")

        form.get_by_label("Current password").fill(PASSWORD)
        form.get_by_label("New password").fill("another-horse-battery")
        form.get_by_role("button", name="Change password").click()
        expect(here.page.locator("#notice")).to_have_text(
            "Your password is changed. Other devices are logged out."
        )

        # This browser carries on; the other device is told its session ended.
        expire()
        send_from_chat(here)
        there.page.get_by_role("link", name="Ledger").click()
        expect(there.page.locator("#notice")).to_have_text(SESSION_ENDED)
        expect(there.page.get_by_role("heading", name="Log in")).to_be_visible()
        log_in(there, "changer", "another-horse-battery")
        expect(there.page.locator("#account-bar")).to_be_visible()

        # Log out everywhere ends both.
        here.page.get_by_role("link", name="Account").click()
        here.page.get_by_role("button", name="Log out everywhere").click()
        expect(here.page.get_by_role("heading", name="Log in")).to_be_visible()
        there.page.get_by_role("link", name="Account").click()
        expect(there.page.locator("#notice")).to_have_text(SESSION_ENDED)
        expect(there.page.get_by_role("heading", name="Log in")).to_be_visible()
    finally:
        other_device.close()


def send_from_chat(tab: Tab) -> None:
    tab.page.get_by_role("link", name="Chat").click()
    send(tab.page, "still here?")
    wait_for_reply(tab.page, "You said: still here?")


def test_log_in_and_register_say_what_went_wrong(
    context: BrowserContext, server: LiveServer
) -> None:
    tab = open_tab(context, server.url + "/")
    page = tab.page
    register(tab, "taken")
    expect(page.locator("#balance")).to_have_text("4000")
    page.get_by_role("button", name="Log out").click()

    register(tab, "Taken")
    expect(page.locator("#register-username-error")).to_have_text(
        "That username is taken: choose another."
    )
    register(tab, "fresh", password="short")
    expect(page.locator("#register-password-error")).to_contain_text("too short")
    register(tab, "fresh", password="password123")
    expect(page.locator("#register-password-error")).to_contain_text("too common")

    # An account nobody has logged in to yet: its whole log-in budget is left.
    registered = server.request(
        "POST", "/api/v1/auth/register/", {"username": "guessed", "password": PASSWORD}
    )
    assert registered.status == 201, registered
    for _ in range(LOGIN_LIMIT):
        log_in(tab, "guessed", "wrong-password")
        expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
        page.locator("#login-error").evaluate("node => node.hidden = true")
    with page.expect_response("**/auth/login/") as answer:
        log_in(tab, "guessed", PASSWORD)
    assert answer.value.status == 429
    wait = int(answer.value.headers["retry-after"])
    unit = "second" if wait == 1 else "seconds"
    expect(page.locator("#login-error")).to_have_text(
        f"Too many attempts. Try again in {wait} {unit}."
    )
    assert tab.violations() == []
