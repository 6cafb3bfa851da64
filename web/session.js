// Tokens, kept as a single-page app must (docs/web-client.md#tokens).
//
// - The access token lives in this module's memory only: each tab has its own,
//   gone when the tab closes or reloads.
// - The refresh token lives in IndexedDB (store.js), which every tab of this
//   site shares, so a reload or a second tab continues the session.
// - The refresh token is spent once: presenting a spent one ends the whole
//   session. So every refresh, in every tab, runs under one Web Lock, reads
//   the token inside it and stores the new one before letting go: no two
//   refreshes ever hold the same token. Within a tab, requests that fail
//   together share one refresh.
// - A tab that refreshes tells the others the new access token (a
//   BroadcastChannel), so they need not refresh again; log-in and log-out are
//   told the same way.

import { SessionEnded, errorOf } from "./errors.js";
import { deleteRefreshToken, readRefreshToken, writeRefreshToken } from "./store.js";

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

export async function hasSession() {
  return (await readRefreshToken()) !== null;
}

/** Start a session with a pair from log-in or a password change. */
export async function begin(pair) {
  await withLock(() => writeRefreshToken(pair.refresh));
  access = pair.access;
  channel?.postMessage({ type: "login", access });
}

/**
 * End this session on the server, then here and in every tab. Under the lock,
 * so that it sends the current refresh token, not one another tab is
 * rotating at that moment.
 */
export async function logOut() {
  try {
    await withLock(async () => {
      let token = await rotate(null);
      let response = await postLogout(token);
      if (response.status === 401) response = await postLogout(await rotate(token));
    });
  } catch {
    // Ended already, or the server is unreachable: forget the tokens here anyway.
  }
  await end();
}

async function postLogout(token) {
  return fetch("/api/v1/auth/logout/", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ refresh: await readRefreshToken() }),
    cache: "no-store",
  });
}

/** Forget the session here and in every other tab. */
export async function end(reason = "self") {
  access = null;
  await deleteRefreshToken();
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
  refreshing ??= withLock(() => rotate(failed)).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** The refresh itself, for a caller that holds the lock. */
async function rotate(failed) {
  if (access !== null && access !== failed) return access;
  const token = await readRefreshToken();
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
    if ((await readRefreshToken()) === token) await end("ended");
    else if (access !== null && access !== failed) return access;
    throw new SessionEnded();
  }
  if (!response.ok) throw await errorOf(response);
  const pair = await response.json();
  await writeRefreshToken(pair.refresh);
  access = pair.access;
  channel?.postMessage({ type: "access", access });
  return access;
}

function withLock(task) {
  // Web Locks need a secure context: HTTPS, or the loopback addresses.
  if (!navigator.locks) return task();
  return navigator.locks.request(LOCK, task);
}
