// Conversations and the chat: the list (most recently active first, a page
// at a time), one conversation's history, a streamed reply with Stop, delete.

import { authorized, call, ApiError } from "./api.js";
import { loadBalance, setBalance } from "./balance.js";
import { $, el, say, show } from "./dom.js";
import { errorOf } from "./errors.js";
import { describe } from "./messages.js";
import { readEvents } from "./sse.js";

const PAGE_SIZE = 20;

let current = null; // the open conversation's id; null for a new one
let listCursor = null;
let historyCursor = null;
let streaming = null; // the AbortController of the reply being written

// --- the list of conversations ----------------------------------------------

export async function loadConversations() {
  listCursor = null;
  $("conversation-list").replaceChildren();
  await loadMoreConversations();
}

async function loadMoreConversations() {
  const query = `?page_size=${PAGE_SIZE}` + (listCursor ? `&cursor=${encodeURIComponent(listCursor)}` : "");
  try {
    const page = await call(`/conversations/${query}`);
    for (const conversation of page.results) $("conversation-list").append(listItem(conversation));
    listCursor = page.next_cursor;
  } catch (error) {
    say($("chat-error"), describe(error));
  }
  show($("conversations-more"), listCursor !== null);
  show($("conversations-empty"), $("conversation-list").children.length === 0);
  markCurrent();
}

function listItem(conversation) {
  const link = el("a", { href: `#/chat/${conversation.id}` }, conversation.title || "Untitled");
  return el("li", { "data-id": conversation.id }, link);
}

function markCurrent() {
  for (const item of $("conversation-list").children) {
    const link = item.firstElementChild;
    if (item.dataset.id === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

/** Move (or add) a conversation to the top of the list: it was just active. */
function bringToTop(id, title) {
  const list = $("conversation-list");
  const existing = [...list.children].find((item) => item.dataset.id === id);
  list.prepend(existing ?? listItem({ id, title }));
  show($("conversations-empty"), false);
  markCurrent();
}

// --- one conversation ---------------------------------------------------------

/** Open a conversation (its newest messages), or a new one when `id` is null. */
export async function openConversation(id) {
  if (streaming) {
    // One reply at a time: stay where it is being written.
    history.replaceState(null, "", current ? `#/chat/${current}` : "#/chat");
    return;
  }
  current = id;
  historyCursor = null;
  $("messages").replaceChildren();
  say($("chat-error"), "");
  show($("delete-conversation"), id !== null);
  show($("history-more"), false);
  markCurrent();
  if (id === null) {
    $("conversation-title").textContent = "New conversation";
    return;
  }
  try {
    const conversation = await call(`/conversations/${id}/`);
    $("conversation-title").textContent = conversation.title || "Untitled";
    await loadHistory();
  } catch (error) {
    say($("chat-error"), describe(error));
  }
}

async function loadHistory() {
  const query = `?conversation=${current}&page_size=${PAGE_SIZE}` +
    (historyCursor ? `&cursor=${encodeURIComponent(historyCursor)}` : "");
  const page = await call(`/chats/${query}`);
  // Newest first from the API; a chat reads oldest first, so each page goes on top.
  const items = [];
  for (const exchange of [...page.results].reverse()) {
    items.push(userMessage(exchange.message));
    const reply = replyMessage(exchange.response);
    if (exchange.status === "incomplete") markStopped(reply);
    items.push(reply);
  }
  $("messages").prepend(...items);
  historyCursor = page.next_cursor;
  show($("history-more"), historyCursor !== null);
}

function userMessage(text) {
  return el("li", { class: "message user" }, el("p", { class: "who" }, "You"), el("p", { class: "text" }, text));
}

function replyMessage(text) {
  return el("li", { class: "message assistant" }, el("p", { class: "who" }, "AI"), el("p", { class: "text" }, text));
}

function markStopped(item) {
  item.classList.add("stopped");
  item.append(el("p", { class: "note" }, "Stopped: the reply so far is kept."));
}

// --- sending, streamed -------------------------------------------------------

async function sendMessage(event) {
  event.preventDefault();
  const input = $("message");
  const message = input.value.trim();
  if (!message || streaming) return;
  say($("chat-error"), "");
  const mine = userMessage(message);
  const reply = replyMessage("");
  const text = reply.querySelector(".text");
  reply.setAttribute("aria-busy", "true");
  $("messages").append(mine, reply);
  input.value = "";
  streaming = new AbortController();
  setBusy(true);
  let received = false;
  try {
    const body = { message, stream: true };
    if (current) body.conversation = current;
    const response = await authorized("/chat/", { method: "POST", body, signal: streaming.signal });
    if (!response.ok) throw await errorOf(response);
    for await (const { event: name, data } of readEvents(response.body)) {
      const payload = JSON.parse(data);
      if (name === "start") {
        received = true;
        if (current !== payload.conversation) {
          current = payload.conversation;
          $("conversation-title").textContent = message.slice(0, 60);
          show($("delete-conversation"), true);
          history.replaceState(null, "", `#/chat/${current}`);
        }
        bringToTop(current, message.slice(0, 60));
      } else if (name === "delta") {
        text.append(payload.text);
      } else if (name === "done") {
        text.textContent = payload.response;
        setBalance(payload.remaining_tokens);
        reply.classList.add("complete");
      } else if (name === "error") {
        throw new ApiError(200, payload);
      }
    }
  } catch (error) {
    if (error.name === "AbortError") {
      markStopped(reply);
      loadBalance().catch(() => {});
    } else {
      if (!received) {
        // Never sent (402, 429, …): give the message back to edit or resend.
        mine.remove();
        reply.remove();
        input.value = message;
      } else {
        reply.classList.add("failed");
      }
      say($("chat-error"), describe(error));
      // A 402 leaves the balance as it is; a failed reply was refunded.
      if (received || error.code === "insufficient_tokens") loadBalance().catch(() => {});
    }
  } finally {
    reply.removeAttribute("aria-busy");
    streaming = null;
    setBusy(false);
  }
}

function setBusy(busy) {
  $("send").disabled = busy;
  show($("stop"), busy);
  if (busy) $("stop").focus();
  else $("message").focus();
}

async function deleteConversation() {
  if (!current || streaming) return;
  const title = $("conversation-title").textContent;
  if (!window.confirm(`Delete “${title}” and all its messages?`)) return;
  try {
    await call(`/conversations/${current}/`, { method: "DELETE" });
    $("conversation-list").querySelector(`[data-id="${current}"]`)?.remove();
    show($("conversations-empty"), $("conversation-list").children.length === 0);
    location.hash = "#/chat";
  } catch (error) {
    say($("chat-error"), describe(error));
  }
}

export function setUpChat() {
  $("composer").addEventListener("submit", sendMessage);
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => streaming?.abort());
  $("new-conversation").addEventListener("click", () => {
    location.hash = "#/chat";
    openConversation(null);
    $("message").focus();
  });
  $("conversations-more").addEventListener("click", loadMoreConversations);
  $("history-more").addEventListener("click", () =>
    loadHistory().catch((error) => say($("chat-error"), describe(error))),
  );
  $("delete-conversation").addEventListener("click", deleteConversation);
}

export function currentConversation() {
  return current;
}
