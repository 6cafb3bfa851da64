// The ledger page: every change to the balance, newest first, a page at a time.

import { call } from "./api.js";
import { $, el, say, show, utc } from "./dom.js";
import { describe } from "./messages.js";

const KINDS = {
  signup_grant: "Sign-up grant",
  chat_charge: "Message",
  refund: "Refund",
  admin_adjustment: "Adjustment",
};

let cursor = null;

export async function showLedger() {
  $("ledger-rows").replaceChildren();
  cursor = null;
  await loadPage();
}

async function loadPage() {
  say($("ledger-error"), "");
  const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
  try {
    const page = await call(`/transactions/${query}`);
    for (const row of page.results) {
      const amount = row.amount > 0 ? `+${row.amount}` : String(row.amount);
      $("ledger-rows").append(
        el(
          "tr",
          {},
          el("td", {}, el("time", { datetime: row.created_at }, utc(row.created_at))),
          el("td", {}, KINDS[row.kind] ?? row.kind),
          el("td", { class: "number" }, amount),
          el("td", { class: "number" }, String(row.balance_after)),
        ),
      );
    }
    cursor = page.next_cursor;
    show($("ledger-more"), cursor !== null);
  } catch (error) {
    say($("ledger-error"), describe(error));
  }
}

export function setUpLedger() {
  $("ledger-more").addEventListener("click", loadPage);
}
