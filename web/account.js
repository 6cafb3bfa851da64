// The account page: change the password, log out everywhere.

import { call } from "./api.js";
import { $, say } from "./dom.js";
import { describe, fieldMessages } from "./messages.js";
import * as session from "./session.js";

async function changePassword(event) {
  event.preventDefault();
  const form = event.target;
  for (const id of ["old-password-error", "new-password-error", "password-error"]) say($(id), "");
  const body = { old_password: form.old_password.value, new_password: form.new_password.value };
  try {
    // A new pair: this tab stays logged in, every other token has ended.
    session.begin(await call("/auth/password/", { method: "POST", body }));
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
    session.end();
  } catch (error) {
    document.dispatchEvent(new CustomEvent("notice", { detail: describe(error) }));
  }
}

export function setUpAccount() {
  $("password-form").addEventListener("submit", changePassword);
  $("logout-all").addEventListener("click", logOutEverywhere);
}
