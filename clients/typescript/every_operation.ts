// Every operation of the API, typed by what openapi-typescript generates from
// schema.yml (build/schema.d.ts) and called through openapi-fetch, as an
// integrator would write it (with_a_key.ts holds the API key's part). `make
// clients` checks it with `tsc --strict`: a request body, parameter or
// response field that the schema does not have (or types otherwise) fails
// the check. tests/clients/test_every_operation_called.py fails when an
// operation of schema.yml is called nowhere here.
//
//     node build/js/every_operation.js http://127.0.0.1:8000

import createClient from "openapi-fetch";

import type { components, paths } from "./build/schema.js";
import { check } from "./check.js";
import { eventBlocks } from "./event_stream.js";
import { withAKey } from "./with_a_key.js";

type ChatOutput = components["schemas"]["ChatOutput"];
type ChatStreamEvent = components["schemas"]["ChatStreamEvent"];
type ChatStreamStart = components["schemas"]["ChatStreamStart"];
type ChatStreamDelta = components["schemas"]["ChatStreamDelta"];
type ErrorResponseChatStream = components["schemas"]["ErrorResponseChatStream"];
type Conversation = components["schemas"]["Conversation"];
type ConversationPage = components["schemas"]["PaginatedConversationList"];

const PASSWORD = "correct-horse-battery-staple";

// The events of a streamed chat as they arrive: each `event:` line with its
// `data:` line, the data one line of JSON; comment lines are skipped.
async function* events(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ event: ChatStreamEvent["event"]; data: unknown }> {
  for await (const lines of eventBlocks(body)) {
    const fields = new Map(
      lines.map((line): [string, string] => {
        const colon = line.indexOf(": ");
        return [line.slice(0, colon), line.slice(colon + 2)];
      }),
    );
    const event = fields.get("event") as ChatStreamEvent["event"] | undefined;
    // A block without an event is a comment (`: keep-alive`): skip it.
    if (event !== undefined) {
      yield { event, data: JSON.parse(fields.get("data") ?? "null") };
    }
  }
}

async function main(baseUrl: string): Promise<void> {
  const api = createClient<paths>({ baseUrl });
  const username = `ada-${crypto.randomUUID().slice(0, 8)}`;

  // Readiness: what a load balancer asks, without credentials.
  const ready = await api.GET("/readyz/");
  check(ready.data !== undefined && ready.data.status === "ok", "readiness");
  check(ready.data.database === "ok" && ready.data.cache === "ok", "readiness: each dependency");

  // Accounts: register, log in, refresh (no credentials needed).
  const registered = await api.POST("/api/v1/auth/register/", {
    body: { username, password: PASSWORD },
  });
  check(registered.data?.username === username, "register");
  const login = await api.POST("/api/v1/auth/login/", { body: { username, password: PASSWORD } });
  check(login.data !== undefined && login.data.token_type === "Bearer", "log in");
  const wrong = await api.POST("/api/v1/auth/login/", {
    body: { username, password: "wrong" },
  });
  check(wrong.response.status === 401, "log in: a wrong password is 401");
  const pair = await api.POST("/api/v1/auth/refresh/", { body: { refresh: login.data.refresh } });
  check(pair.data !== undefined, "refresh");
  const refreshIn: number = pair.data.expires_in;
  check(refreshIn > 0, "refresh: expires_in");
  const headers = { Authorization: `${pair.data.token_type} ${pair.data.access}` };

  const me = await api.GET("/api/v1/auth/me/", { headers });
  const balance = await api.GET("/api/v1/balance/", { headers });
  check(me.data !== undefined && balance.data !== undefined, "me and balance");
  check(me.data.tokens === balance.data.tokens, "me and balance agree");

  // Chat: plain, then streamed, the events read as they arrive.
  const chat = await api.POST("/api/v1/chat/", { headers, body: { message: "Hello!" } });
  check(chat.response.status === 201 && chat.data !== undefined, "chat");
  const first = chat.data as ChatOutput;
  const streamed = await api.POST("/api/v1/chat/", {
    headers,
    body: { message: "And then?", conversation: first.conversation, stream: true },
    parseAs: "stream",
  });
  check(streamed.response.status === 200 && streamed.data != null, "a streamed chat is 200");
  let text = "";
  let start: ChatStreamStart | undefined;
  let done: ChatOutput | undefined;
  for await (const { event, data } of events(streamed.data)) {
    switch (event) {
      case "start":
        start = data as ChatStreamStart;
        break;
      case "delta":
        text += (data as ChatStreamDelta).text;
        break;
      case "done":
        done = data as ChatOutput;
        break;
      case "error":
        throw new Error((data as ErrorResponseChatStream).errors[0]?.code ?? "error");
    }
  }
  check(start !== undefined && done !== undefined, "stream: start ... done");
  check(done.id === start.id && done.response === text, "stream: done holds the reply");

  // Safe retries.
  const key = crypto.randomUUID();
  const once = await api.POST("/api/v1/chat/", {
    headers: { ...headers, "Idempotency-Key": key },
    body: { message: "Once only" },
  });
  const again = await api.POST("/api/v1/chat/", {
    headers: { ...headers, "Idempotency-Key": key },
    body: { message: "Once only" },
  });
  check(again.response.headers.get("Idempotent-Replayed") === "true", "a replay");
  check((once.data as ChatOutput).id === (again.data as ChatOutput).id, "the same reply");

  // Lists, page by page with the bare cursors.
  const conversationsPage = async (cursor: string | null): Promise<ConversationPage> => {
    const query = cursor === null ? { page_size: 1 } : { page_size: 1, cursor };
    const page = await api.GET("/api/v1/conversations/", { headers, params: { query } });
    check(page.data !== undefined, "conversations");
    return page.data;
  };
  const conversations: Conversation[] = [];
  let page = await conversationsPage(null);
  conversations.push(...page.results);
  while (page.next_cursor !== null) {
    page = await conversationsPage(page.next_cursor);
    conversations.push(...page.results);
  }
  check(conversations.length === 2, "two conversations, one per page");
  const history = await api.GET("/api/v1/chats/", {
    headers,
    params: { query: { conversation: first.conversation } },
  });
  check(history.data?.results.length === 2, "chats: the conversation's exchanges");
  const ledger = await api.GET("/api/v1/transactions/", { headers });
  const total = ledger.data?.results.reduce((sum, row) => sum + row.amount, 0);
  const after = await api.GET("/api/v1/balance/", { headers });
  check(total === after.data?.tokens, "transactions: sum to the balance");
  const users = await api.GET("/api/v1/users/", { headers });
  check(users.response.status === 403, "users: staff only");

  const id = { path: { id: first.conversation } };
  const fetched = await api.GET("/api/v1/conversations/{id}/", { headers, params: id });
  check(fetched.data?.title === "Hello!", "conversation: titled from its first message");
  const deleted = await api.DELETE("/api/v1/conversations/{id}/", { headers, params: id });
  check(deleted.response.status === 204, "conversation: deleted");
  const gone = await api.GET("/api/v1/conversations/{id}/", { headers, params: id });
  check(gone.error?.errors[0]?.code === "not_found", "conversation: 404 once deleted");

  // An API key: /v1/ (OpenAI's shape) and /api/v1/ with it as the bearer.
  await withAKey(api, headers);

  // Password change, log out, log out everywhere.
  const changed = await api.POST("/api/v1/auth/password/", {
    headers,
    body: { old_password: PASSWORD, new_password: [...PASSWORD].reverse().join("") },
  });
  check(changed.data !== undefined, "password change");
  const fresh = { Authorization: `Bearer ${changed.data.access}` };
  const out = await api.POST("/api/v1/auth/logout/", {
    headers: fresh,
    body: { refresh: changed.data.refresh },
  });
  check(out.response.status === 204, "log out");
  const loggedOut = await api.GET("/api/v1/auth/me/", { headers: fresh });
  check(loggedOut.response.status === 401, "log out ends the session's access token");
  const relogin = await api.POST("/api/v1/auth/login/", {
    body: { username, password: [...PASSWORD].reverse().join("") },
  });
  check(relogin.data !== undefined, "log in again");
  const last = { Authorization: `Bearer ${relogin.data.access}` };
  const all = await api.POST("/api/v1/auth/logout-all/", { headers: last });
  check(all.response.status === 204, "log out everywhere");
  const ended = await api.GET("/api/v1/auth/me/", { headers: last });
  check(ended.response.status === 401, "every token ended");
  console.log("every operation answered as schema.yml says");
}

const url = process.argv[2];
if (url === undefined) {
  throw new Error("usage: node build/js/every_operation.js <base URL>");
}
await main(url);
