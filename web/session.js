// Tokens, kept as a single-page app must (docs/web-client.md#tokens).
//
// - The access token lives in this module's memory only: each tab has its own,
//   gone when the tab closes or reloads.
// - The refresh token lives in localStorage, the one store every tab of this
//   site shares, so a reload or a second tab continues the session.
// - The refresh token is spent once: presenting a spent one ends the whole
//   session. So every refresh, in every tab, runs under one Web Lock and reads
//   the token from storage inside it: no two refreshes ever hold the same
//   token. Within a tab, requests that fail together share one refresh.
// - A tab that refreshes tells the others the new access token (a
//   BroadcastChannel), so they need not refresh again; log-in and log-out are
//   told the same way.

import { ApiError, SessionEnded, errorOf } from "./errors.js";

const REFRESH_KEY = "chat.refresh";
const LOCK = "chat.refresh";
const REFRESH_URL = "/api/v1/auth/refresh/";

let access = null;
let refreshing = null;
const listeners = new Set();
const channel = "BroadcastChannel" in window ? new BroadcastChannel("chat.session") : null;

channel?.addEventListener("message", ({ data }) => {
  if (data.type === "access") {
    access = data.access;
  } else if (data.type === "login") {
    access = data.access;
    emit("login");
  } else if (data.type === "logout") {
    access = null;
    emit("logout", data.reason);
  }
});

/** Be told of "login" and "logout" (reason: "self", "ended") in any tab. */
export function onChange(listener) {
  listeners.add(listener);
}

function emit(kind, reason) {
  for (const listener of listeners) listener(kind, reason);
}

export function hasSession() {
  return localStorage.getItem(REFRESH_KEY) !== null;
}

/** Start a session with a pair from log-in or a password change. */
export function begin(pair) {
  access = pair.access;
  localStorage.setItem(REFRESH_KEY, pair.refresh);
  channel?.postMessage({ type: "login", access });
}

/** The refresh token, for log-out (which ends its session). */
export function refreshToken() {
  return localStorage.getItem(REFRESH_KEY);
}

/** Forget the session here and in every other tab. */
export function end(reason = "self") {
  access = null;
  localStorage.removeItem(REFRESH_KEY);
  channel?.postMessage({ type: "logout", reason });
  emit("logout", reason);
}

/** An access token: the one in memory, or a fresh one. */
export async function accessToken() {
  return access ?? refreshed(null);
}

/**
 * A new access token, for a request that `failed` with the one it sent.
 * One refresh at a time in this tab (callers share it) and across tabs (the
 * lock); a token another request or tab already got is used as it is.
 */
export function refreshed(failed) {
  refreshing ??= withLock(async () => {
    if (access !== null && access !== failed) return access;
    const token = localStorage.getItem(REFRESH_KEY);
    if (token === null) throw new SessionEnded();
    const response = await fetch(REFRESH_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh: token }),
      cache: "no-store",
    });
    if (response.status === 401) {
      // Ended (logged out elsewhere, or a password change), unless a new
      // session began meanwhile: another tab's password change stores a new
      // pair, and the token sent here was ended by that change.
      if (localStorage.getItem(REFRESH_KEY) === token) end("ended");
      else if (access !== null && access !== failed) return access;
      throw new SessionEnded();
    }
    if (!response.ok) throw await errorOf(response);
    const pair = await response.json();
    access = pair.access;
    localStorage.setItem(REFRESH_KEY, pair.refresh);
    channel?.postMessage({ type: "access", access });
    return access;
  }).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function withLock(task) {
  // Web Locks need a secure context: HTTPS, or the loopback addresses.
  if (!navigator.locks) return task();
  return navigator.locks.request(LOCK, task);
}

export { ApiError };
