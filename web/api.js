// Requests to the API (/api/v1/), with the access token, and one refresh and
// retry when the server answers 401 token_not_valid (an expired access token,
// or one a password change ended).

import { ApiError, SessionEnded, errorOf } from "./errors.js";
import * as session from "./session.js";

const BASE = "/api/v1";

async function send(path, { method = "GET", body, signal }, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: "no-store",
  });
}

async function isExpired(response) {
  if (response.status !== 401) return false;
  const error = await errorOf(response.clone());
  return error.code === "token_not_valid";
}

/** The Response of an authenticated request, refreshed and retried once if need be. */
export async function authorized(path, options = {}) {
  const token = await session.accessToken();
  let response = await send(path, options, token);
  if (await isExpired(response)) {
    response = await send(path, options, await session.refreshed(token));
    if (await isExpired(response)) {
      await session.end("ended");
      throw new SessionEnded();
    }
  }
  return response;
}

async function json(response) {
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

/** GET/POST/DELETE with the session; the JSON body, or an ApiError. */
export async function call(path, options = {}) {
  return json(await authorized(path, options));
}

/** A request that needs no session (register, log in). */
export async function open(path, body) {
  return json(await send(path, { method: "POST", body }, null));
}

export { ApiError, SessionEnded };
