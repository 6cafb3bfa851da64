// What an integrator does with an API key: create it with a log-in, then send
// it as the bearer to /v1/ (the models, a completion streamed and not) and
// to /api/v1/ (balance, history, usage); revoke it. Typed by schema.yml like
// every_operation.ts, which calls this.

import type { Client } from "openapi-fetch";

import type { components, paths } from "./build/schema.js";
import { check } from "./check.js";
import { eventBlocks } from "./event_stream.js";

type ChatCompletion = components["schemas"]["ChatCompletion"];
type OpenAIError = components["schemas"]["OpenAIError"];
type Headers = { Authorization: string };

// A `chat.completion.chunk` (the stream's `data:` lines are JSON of this
// shape, schema.yml's ChatCompletionChunkEvent says), or an error after a failure.
interface Chunk {
  id: string;
  object: "chat.completion.chunk";
  choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
  usage?: components["schemas"]["ChatCompletionUsage"];
  error?: OpenAIError["error"];
}

// The `data:` lines of an event stream as they arrive; comments are skipped.
async function* dataLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  for await (const lines of eventBlocks(body)) {
    for (const line of lines) {
      if (line.startsWith("data: ")) {
        yield line.slice("data: ".length);
      }
    }
  }
}

// An error in OpenAI's shape, with this status and code.
function openAIError(
  answer: { response: Response; error?: OpenAIError },
  status: number,
  code: string,
  what: string,
): void {
  const { response, error } = answer;
  check(response.status === status && error?.error.code === code, `${what}: ${status} ${code}`);
}

export async function withAKey(api: Client<paths>, login: Headers): Promise<void> {
  // Created with a log-in: the key is in this answer only.
  const created = await api.POST("/api/v1/keys/", { headers: login, body: { name: "typescript" } });
  check(created.response.status === 201 && created.data !== undefined, "keys: created");
  const key = created.data;
  check(key.key.startsWith(key.prefix) && key.last_used_at === null, "keys: the key, once");
  const listed = await api.GET("/api/v1/keys/", { headers: login });
  check(listed.data?.results.length === 1, "keys: listed");
  const first = listed.data.results[0];
  check(first?.id === key.id && !("key" in first), "keys: listed by id, without the key");
  const id = { path: { id: key.id } };
  const read = await api.GET("/api/v1/keys/{id}/", { headers: login, params: id });
  check(read.data?.prefix === key.prefix, "keys: read by its id");
  const headers = { Authorization: `Bearer ${key.key}` };
  const manage = await api.GET("/api/v1/keys/", { headers });
  check(manage.response.status === 401, "keys: a key cannot manage keys");

  // The models: one listed, retrieved by its id; others are 404.
  const models = await api.GET("/v1/models", { headers });
  check(models.data?.data.length === 1, "models: the one served");
  const model = models.data.data[0]?.id ?? "";
  const one = await api.GET("/v1/models/{model}", { headers, params: { path: { model } } });
  check(one.data?.id === model && one.data.object === "model", "models: retrieved");
  const other = await api.GET("/v1/models/{model}", {
    headers,
    params: { path: { model: `not-${model}` } },
  });
  openAIError(other, 404, "model_not_found", "models: another id");
  const jwt = await api.GET("/v1/models", { headers: login });
  openAIError(jwt, 401, "invalid_api_key", "models: a log-in is not a key");

  // A completion, then a streamed one: each charged once and kept.
  const before = await api.GET("/api/v1/balance/", { headers });
  check(before.data !== undefined, "balance with a key");
  // Null only under per-token pricing; the server prices chats flat (the default).
  const cost = before.data.cost_per_message;
  check(cost !== null, "balance: a cost per message under flat pricing");
  const messages = [{ role: "user" as const, content: "Hello from TypeScript" }];
  const completed = await api.POST("/v1/chat/completions", { headers, body: { model, messages } });
  check(completed.response.status === 200 && typeof completed.data === "object", "completion");
  const completion: ChatCompletion = completed.data;
  const reply = completion.choices[0]?.message.content ?? "";
  check(completion.object === "chat.completion" && reply !== "", "completion: the reply");
  check(completion.choices[0]?.finish_reason === "stop", "completion: finish_reason");
  const remaining = Number(completed.response.headers.get("X-Tokens-Remaining"));
  check(remaining === before.data.tokens - cost, "completion: charged");

  const streamed = await api.POST("/v1/chat/completions", {
    headers,
    body: { model, messages, stream: true },
    parseAs: "stream",
  });
  check(streamed.response.status === 200 && streamed.data != null, "a streamed completion");
  const lines: string[] = [];
  for await (const line of dataLines(streamed.data)) {
    lines.push(line);
  }
  check(lines.pop() === "[DONE]", "stream: ends with [DONE]");
  const chunks = lines.map((line) => JSON.parse(line) as Chunk);
  const last = chunks[chunks.length - 1];
  check(last?.error === undefined, `stream: ${JSON.stringify(last?.error)}`);
  check(chunks.every((chunk) => chunk.object === "chat.completion.chunk"), "stream: chunks");
  check(new Set(chunks.map((chunk) => chunk.id)).size === 1, "stream: one id");
  check(chunks[0]?.choices[0]?.delta.role === "assistant", "stream: the role first");
  check(last?.choices[0]?.finish_reason === "stop" && last.usage !== undefined, "stream: end");
  const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
  const kept = await api.GET("/api/v1/chats/", { headers, params: { query: { page_size: 1 } } });
  check(kept.data?.results[0]?.response === text, "stream: the reply kept whole");
  check(`chatcmpl-${kept.data.results[0].id.replaceAll("-", "")}` === last.id, "stream: its id");

  const bad = await api.POST("/v1/chat/completions", {
    headers,
    body: { model, messages: [{ role: "assistant", content: "No question" }] },
  });
  openAIError(bad, 400, "invalid", "completion: the last message must be the user's");
  check(bad.error?.error.param === "messages", "completion: 400 names messages");
  const after = await api.GET("/api/v1/balance/", { headers });
  const spent = 2 * cost;
  check(after.data?.tokens === before.data.tokens - spent, "completions: charged once each");

  // The usage report with the key: its totals are the ledger's.
  const ledger = await api.GET("/api/v1/transactions/", { headers: login });
  check(ledger.data?.next_cursor === null, "transactions: one page");
  const charges = ledger.data.results.filter((row) => row.kind === "chat_charge");
  const usage = await api.GET("/api/v1/usage/", { headers });
  check(usage.data?.group === "day", "usage: by day");
  check(usage.data.totals.chats === charges.length, "usage: every chat counted");
  const charged = -charges.reduce((sum, row) => sum + row.amount, 0);
  check(usage.data.totals.charged === charged, "usage: charged as the ledger says");
  check(usage.data.totals.net === charged - usage.data.totals.refunded, "usage: net");
  const months = await api.GET("/api/v1/usage/", {
    headers: login,
    params: { query: { group: "month", from: usage.data.from } },
  });
  check(months.data?.periods.length === 1, "usage: this month");
  check(months.data.totals.net === usage.data.totals.net, "usage: the same by month");

  // Revoked: refused at once, on both APIs.
  const used = await api.GET("/api/v1/keys/{id}/", { headers: login, params: id });
  check(used.data !== undefined && used.data.last_used_at !== null, "keys: the last use recorded");
  const revoked = await api.DELETE("/api/v1/keys/{id}/", { headers: login, params: id });
  check(revoked.response.status === 204, "keys: revoked");
  const refused = await api.GET("/v1/models", { headers });
  openAIError(refused, 401, "invalid_api_key", "revoked: /v1/models");
  const balance = await api.GET("/api/v1/balance/", { headers });
  check(balance.response.status === 401, "revoked: the balance");
}
