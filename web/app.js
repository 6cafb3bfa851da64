// The web client's entry point: logging in and out, and which page shows.
// Pages are chosen by the URL's fragment: #/chat, #/chat/<id>, #/ledger, #/account.

import { call, open } from "./api.js";
import { setUpAccount, showAccount } from "./account.js";
import { loadBalance, setBalance } from "./balance.js";
import { loadConversations, openConversation, setUpChat } from "./chat.js";
import { $, say, show } from "./dom.js";
import { setUpLedger, showLedger } from "./ledger.js";
import { describe, fieldMessages } from "./messages.js";
import * as session from "./session.js";

const VIEWS = ["view-auth", "view-chat", "view-ledger", "view-account"];
let loggedIn = false;

function showView(name) {
  for (const view of VIEWS) show($(view), view === name);
  for (const [link, view] of [["nav-chat", "view-chat"], ["nav-ledger", "view-ledger"], ["nav-account", "view-account"]]) {
    if (view === name) $(link).setAttribute("aria-current", "page");
    else $(link).removeAttribute("aria-current");
  }
}

function notice(text) {
  say($("notice"), text);
}

// --- logged out ----------------------------------------------------------------

function showAuth() {
  loggedIn = false;
  show($("account-bar"), false);
  showView("view-auth");
  $("login-username").focus();
}

async function logIn(username, password) {
  await session.begin(await open("/auth/login/", { username, password }));
  await enter();
}

async function onLogin(event) {
  event.preventDefault();
  const form = event.target;
  say($("login-error"), "");
  notice("");
  try {
    await logIn(form.username.value, form.password.value);
    form.reset();
  } catch (error) {
    say($("login-error"), fieldMessages(error, "username") || fieldMessages(error, "password") || describe(error));
    form.password.focus();
  }
}

async function onRegister(event) {
  event.preventDefault();
  const form = event.target;
  for (const id of ["register-username-error", "register-password-error", "register-error"]) say($(id), "");
  notice("");
  const username = form.username.value;
  const password = form.password.value;
  try {
    await open("/auth/register/", { username, password });
  } catch (error) {
    const name = fieldMessages(error, "username");
    const secret = fieldMessages(error, "password");
    say($("register-username-error"), name);
    say($("register-password-error"), secret);
    if (!name && !secret) say($("register-error"), describe(error));
    (name ? form.username : secret ? form.password : form.querySelector("button")).focus();
    return;
  }
  try {
    await logIn(username, password);
    form.reset();
  } catch (error) {
    say($("register-error"), `Your account is created, but logging in failed. ${describe(error)}`);
  }
}

// --- logged in -------------------------------------------------------------------

async function enter() {
  let me;
  try {
    me = await call("/auth/me/");
  } catch (error) {
    if (error.name !== "SessionEnded") notice(describe(error));
    showAuth();
    return;
  }
  loggedIn = true;
  $("account-username").textContent = me.username;
  setBalance(me.tokens);
  show($("account-bar"), true);
  loadBalance().catch(() => {});
  await loadConversations();
  await route();
}

async function route() {
  if (!loggedIn) return;
  const [, page, id] = location.hash.split("/");
  if (page === "ledger") {
    showView("view-ledger");
    await showLedger();
    $("main").focus();
  } else if (page === "account") {
    showView("view-account");
    await showAccount();
    $("main").focus();
  } else {
    showView("view-chat");
    await openConversation(id || null);
    $("message").focus();
  }
}

async function logOut() {
  await session.logOut();
}

session.onChange((kind, reason) => {
  if (kind === "logout") {
    // The next account to log in here starts on its own chat page.
    history.replaceState(null, "", "/");
    showAuth();
    notice(reason === "ended" ? describe({ name: "SessionEnded" }) : "You are logged out.");
  } else if (kind === "login" && !loggedIn) {
    notice("");
    enter();
  }
});

$("login-form").addEventListener("submit", onLogin);
$("register-form").addEventListener("submit", onRegister);
$("logout").addEventListener("click", logOut);
document.addEventListener("notice", (event) => notice(event.detail));
window.addEventListener("hashchange", () => route());
setUpChat();
setUpLedger();
setUpAccount();

session.hasSession().then((has) => (has ? enter() : showAuth()));
