"""The web client at `/`, in a real Chromium against a live server: an
account, a streamed chat, history after a reload, delete, Stop, a hostile
reply, the balance down to 402, log-out; and the screenshots in docs/."""

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.fake_openai import Behaviour, FakeOpenAI
from tests.server import ROOT, LiveServer, live_server
from tests.web.browser import BROWSER_TESTS, DESKTOP, PHONE, Tab, model_env, open_tab

pytestmark = BROWSER_TESTS

PASSWORD = "correct-horse-battery"
COST = 100


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any, model: FakeOpenAI) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("web"), env=model_env(model)) as running:
        yield running


def register(tab: Tab, username: str, password: str = PASSWORD) -> None:
    page = tab.page
    page.get_by_label("Username").nth(1).fill(username)
    page.locator("#register-password").fill(password)
    page.get_by_role("button", name="Create account").click()


def send(page: Page, message: str) -> None:
    page.get_by_label("Message", exact=True).fill(message)
    page.get_by_label("Message", exact=True).press("Enter")


def last_reply(page: Page):
    return page.locator(".message.assistant .text").last


def wait_for_reply(page: Page, text: str) -> None:
    expect(page.locator(".message.assistant").last).to_have_class("message assistant complete")
    expect(last_reply(page)).to_have_text(text)


def test_register_chat_streamed_reload_history_delete_and_log_out(
    context: BrowserContext, server: LiveServer, model: FakeOpenAI
) -> None:
    tab = open_tab(context, server.url + "/", accept_dialogs=True)
    page = tab.page
    register(tab, "ada")
    expect(page.locator("#balance")).to_have_text("4000")

    # The reply appears piece by piece: the page shows it growing.
    model.behaviour = Behaviour(chunk_delay=0.3)
    send(page, "one two three four five")
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen.append(last_reply(page).text_content())
        if "five" in seen[-1]:
            break
        time.sleep(0.05)
    partial = {text for text in seen if text and "five" not in text}
    assert len(partial) >= 3, seen
    wait_for_reply(page, "You said: one two three four five")
    expect(page.locator("#balance")).to_have_text("3900")

    # Continue the conversation.
    model.behaviour = Behaviour()
    send(page, "and then?")
    wait_for_reply(page, "You said: and then?")
    expect(page.locator("#balance")).to_have_text("3800")
    expect(page.locator("#conversation-list li")).to_have_count(1)

    # Reload: still logged in (the refresh token), the history is there.
    page.reload()
    expect(page.locator("#balance")).to_have_text("3800")
    expect(page.locator(".message .text")).to_have_text(
        [
            "one two three four five",
            "You said: one two three four five",
            "and then?",
            "You said: and then?",
        ]
    )
    page.get_by_role("button", name="New conversation").click()
    send(page, "a second conversation")
    wait_for_reply(page, "You said: a second conversation")
    # The most recent first.
    expect(page.locator("#conversation-list a")).to_have_text(
        ["a second conversation", "one two three four five"]
    )

    # Delete the first one.
    page.get_by_role("link", name="one two three four five").click()
    expect(page.locator(".message .text").first).to_have_text("one two three four five")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("#conversation-list a")).to_have_text(["a second conversation"])
    assert tab.dialogs == ["Delete “one two three four five” and all its messages?"]
    conversations = server.all_pages("/api/v1/conversations/", server.login("ada", PASSWORD))
    assert [c["title"] for c in conversations] == ["a second conversation"]

    # Log out: back to the log-in form, and the session has ended on the server.
    token = tab.stored_refresh()
    assert token is not None
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert tab.stored_refresh() is None
    refresh = server.request("POST", "/api/v1/auth/refresh/", {"refresh": token})
    assert refresh.status == 401
    assert tab.violations() == []


def log_in_over_api(server: LiveServer, username: str) -> str:
    return server.login(username, PASSWORD)


def log_in(tab: Tab, username: str, password: str = PASSWORD) -> None:
    page = tab.page
    page.locator("#login-username").fill(username)
    page.locator("#login-password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_stop_keeps_the_partial_reply_shown_and_saved(
    context: BrowserContext, server: LiveServer, model: FakeOpenAI
) -> None:
    tab = open_tab(context, server.url + "/")
    page = tab.page
    register(tab, "stopper")
    expect(page.locator("#balance")).to_have_text("4000")
    model.behaviour = Behaviour(chunk_delay=0.4, reply=" ".join(f"w{i}" for i in range(1, 41)))

    send(page, "tell me a long story")
    expect(last_reply(page)).to_contain_text("w3")
    page.get_by_role("button", name="Stop").click()

    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(page.locator(".message.assistant .note")).to_have_text(
        "Stopped: the reply so far is kept."
    )
    shown = last_reply(page).text_content()
    assert shown.startswith("w1 w2 w3")
    assert "w40" not in shown
    # The charge stays (the reply had started), and the header says so.
    expect(page.locator("#balance")).to_have_text("3900")

    # Saved as far as it got: the history after a reload shows it, marked.
    page.reload()
    expect(page.locator(".message.assistant .note")).to_have_text(
        "Stopped: the reply so far is kept."
    )
    saved = last_reply(page).text_content()
    assert saved.startswith(shown)
    assert "w40" not in saved
    assert tab.violations() == []


def test_a_hostile_reply_is_shown_as_text(
    context: BrowserContext, server: LiveServer, model: FakeOpenAI
) -> None:
    hostile = '<img src=x onerror=alert(1)> <script>alert("xss")</script> <b>bold</b>'
    model.behaviour = Behaviour(reply=hostile)
    tab = open_tab(context, server.url + "/")
    page = tab.page
    register(tab, "mallory")

    send(page, "say something nasty")
    wait_for_reply(page, hostile)
    page.reload()
    expect(last_reply(page)).to_have_text(hostile)

    messages = page.locator("#messages")
    assert messages.locator("img, script, b").count() == 0
    assert tab.dialogs == []
    assert tab.violations() == []


def test_the_list_pages_the_ledger_and_a_spent_balance(
    context: BrowserContext, server: LiveServer
) -> None:
    access = log_in_over_api(server, "spender")
    # The whole balance, one conversation a message, over the API.
    for n in range(40):
        result = server.request("POST", "/api/v1/chat/", {"message": f"topic {n}"}, token=access)
        assert result.status == 201, result
    tab = open_tab(context, server.url + "/")
    page = tab.page
    log_in(tab, "spender")
    expect(page.locator("#balance")).to_have_text("0")

    # Most recent first, 20 at a time.
    links = page.locator("#conversation-list a")
    expect(links).to_have_count(20)
    expect(links.first).to_have_text("topic 39")
    page.get_by_role("button", name="Load more").click()
    expect(links).to_have_count(40)
    expect(links.last).to_have_text("topic 0")
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()

    # 402: said plainly, nothing sent, the message kept to send later.
    page.get_by_role("button", name="New conversation").click()
    send(page, "one more, please")
    expect(page.get_by_role("alert")).to_have_text(
        "Your balance is spent: this message was not sent, and nothing was charged."
    )
    expect(page.get_by_label("Message", exact=True)).to_have_value("one more, please")
    expect(page.locator("#messages li")).to_have_count(0)
    expect(page.locator("#balance")).to_have_text("0")

    # The ledger: newest first, a page at a time, nothing charged for the 402.
    page.get_by_role("link", name="Ledger").click()
    rows = page.locator("#ledger-rows tr")
    expect(rows).to_have_count(20)
    expect(rows.first.locator("td")).to_have_text([_any_time(), "Message", "-100", "0"])
    page.locator("#ledger-more").click()
    expect(rows).to_have_count(40)
    page.locator("#ledger-more").click()
    expect(rows).to_have_count(41)
    expect(page.locator("#ledger-more")).to_be_hidden()
    expect(rows.last.locator("td")).to_have_text([_any_time(), "Sign-up grant", "+4000", "4000"])
    assert tab.violations() == []


def _any_time() -> re.Pattern[str]:
    return re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$")


# Written by every run: the README shows the desktop one.
SCREENSHOTS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.mark.parametrize("width", list(SCREENSHOTS))
def test_screenshots_at_desktop_and_phone_width(
    browser: Browser, server: LiveServer, model: FakeOpenAI, width: str
) -> None:
    context = browser.new_context(viewport=SCREENSHOTS[width])
    try:
        tab = open_tab(context, server.url + "/")
        page = tab.page
        register(tab, f"grace-{width}")
        model.behaviour = Behaviour(
            reply="Streams are read with fetch(): each event arrives as it is written."
        )
        send(page, "How does the reply reach the page?")
        wait_for_reply(page, "Streams are read with fetch(): each event arrives as it is written.")
        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.locator("#message").blur()
        page.screenshot(path=ROOT / "docs" / f"web-client-{width}.png")
        assert tab.violations() == []
    finally:
        context.close()


def test_keyboard_alone_logs_in_and_sends_with_focus_always_visible(
    context: BrowserContext, server: LiveServer
) -> None:
    server.login("keys", PASSWORD)
    tab = open_tab(context, server.url + "/")
    page = tab.page
    # The log-in form's username has focus on arrival.
    expect(page.locator("#login-username")).to_be_focused()
    page.keyboard.type("keys")
    page.keyboard.press("Tab")
    assert focus_outline(page) != "none"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#balance")).to_have_text("4000")
    # Then the message box.
    expect(page.locator("#message")).to_be_focused()
    page.keyboard.type("typed, not clicked")
    page.keyboard.press("Enter")
    wait_for_reply(page, "You said: typed, not clicked")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert focus_outline(page) != "none"
    # Every field has a label.
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, textarea')]"
        ".filter((field) => field.labels.length === 0).map((field) => field.id)"
    )
    assert unlabelled == []


def focus_outline(page: Page) -> str:
    style: str = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    return style


# The body split at awkward places: inside a CRLF, inside a field name, with a
# comment (the server's keep-alive), an event of two data lines, and a last
# event with no blank line after it (a cut stream: not dispatched).
SSE_CHUNKS = [
    "event: start\r",
    '\ndata: {"n": 1}\r\n\r\n: keep-alive\n\nev',
    'ent: delta\ndata:{"n": 2}\n\n',
    "event: delta\ndata: line one\ndata: line two\n\n",
    'event: done\ndata: {"n": 3}\r\rdata: cut',
]
READ_EVENTS = """async (chunks) => {
  const { readEvents } = await import("/sse.js");
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  const events = [];
  for await (const event of readEvents(body)) events.push(event);
  return events;
}"""


def test_the_stream_parser_follows_the_event_stream_rules(
    context: BrowserContext, server: LiveServer
) -> None:
    tab = open_tab(context, server.url + "/")

    events = tab.page.evaluate(READ_EVENTS, SSE_CHUNKS)

    assert events == [
        {"event": "start", "data": '{"n": 1}'},
        {"event": "delta", "data": '{"n": 2}'},
        {"event": "delta", "data": "line one\nline two"},
        {"event": "done", "data": '{"n": 3}'},
    ]


def test_the_page_refuses_html_from_strings_and_the_tests_see_it(
    context: BrowserContext, server: LiveServer
) -> None:
    tab = open_tab(context, server.url + "/")

    refused = tab.page.evaluate(
        """() => {
          try { document.body.insertAdjacentHTML("beforeend", "<b>x</b>"); return null; }
          catch (error) { return error.name; }
        }"""
    )

    # Trusted Types (the page's policy) refuse it, and report a violation.
    assert refused == "TypeError"
    assert tab.violations() != []


def test_a_reply_that_fails_midway_says_so_and_is_refunded(
    context: BrowserContext, server: LiveServer, model: FakeOpenAI
) -> None:
    tab = open_tab(context, server.url + "/")
    page = tab.page
    register(tab, "unlucky")
    expect(page.locator("#balance")).to_have_text("4000")
    model.behaviour = Behaviour(reply="one two three four five six", cut_after=3)

    send(page, "are you there?")

    expect(page.get_by_role("alert")).to_have_text(
        "The AI could not answer. You were not charged: try again."
    )
    expect(page.locator(".message.assistant.failed .text")).to_have_text("one two three")
    expect(page.locator("#balance")).to_have_text("4000")
    assert tab.violations() == []


def test_a_long_history_loads_earlier_messages_on_demand(
    context: BrowserContext, server: LiveServer
) -> None:
    access = server.login("talker", PASSWORD)
    first = server.request("POST", "/api/v1/chat/", {"message": "m0"}, token=access)
    conversation = first.body["conversation"]
    for n in range(1, 22):
        body = {"message": f"m{n}", "conversation": conversation}
        assert server.request("POST", "/api/v1/chat/", body, token=access).status == 201
    tab = open_tab(context, f"{server.url}/#/chat/{conversation}")
    page = tab.page
    log_in(tab, "talker")

    mine = page.locator(".message.user .text")
    expect(mine).to_have_count(20)
    expect(mine.first).to_have_text("m2")
    expect(mine.last).to_have_text("m21")
    page.get_by_role("button", name="Load earlier messages").click()
    expect(mine).to_have_count(22)
    expect(mine.first).to_have_text("m0")
    expect(page.get_by_role("button", name="Load earlier messages")).to_be_hidden()
    assert tab.violations() == []
