// The account page: change the password, log out everywhere.

import { call } from "./api.js";
import { setBalance } from "./balance.js";
import { $, say, utc } from "./dom.js";
import { describe, fieldMessages } from "./messages.js";
import * as session from "./session.js";

async function changePassword(event) {
  event.preventDefault();
  const form = event.target;
  for (const id of ["old-password-error", "new-password-error", "password-error"]) say($(id), "");
  const body = { old_password: form.old_password.value, new_password: form.new_password.value };
  try {
    // A new pair: this tab stays logged in, every other token has ended.
    await session.begin(await call("/auth/password/", { method: "POST", body }));
    form.reset();
    say($("password-error"), "");
    document.dispatchEvent(new CustomEvent("notice", { detail: "Your password is changed. Other devices are logged out." }));
  } catch (error) {
    const old = fieldMessages(error, "old_password");
    const fresh = fieldMessages(error, "new_password");
    say($("old-password-error"), old);
    say($("new-password-error"), fresh);
    if (!old && !fresh) say($("password-error"), describe(error));
    (old ? form.old_password : fresh ? form.new_password : form.querySelector("button")).focus();
  }
}

async function logOutEverywhere() {
  try {
    await call("/auth/logout-all/", { method: "POST" });
    await session.end();
  } catch (error) {
    document.dispatchEvent(new CustomEvent("notice", { detail: describe(error) }));
  }
}

/** The account page, read afresh: the name, since when, the balance. */
export async function showAccount() {
  say($("account-error"), "");
  try {
    const me = await call("/auth/me/");
    $("account-username").textContent = me.username;
    $("account-joined").textContent = utc(me.date_joined);
    $("account-joined").setAttribute("datetime", me.date_joined);
    setBalance(me.tokens);
  } catch (error) {
    say($("account-error"), describe(error));
  }
}

export function setUpAccount() {
  $("password-form").addEventListener("submit", changePassword);
  $("logout-all").addEventListener("click", logOutEverywhere);
}
