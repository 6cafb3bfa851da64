// The balance in the header: from each reply's remaining_tokens, or asked for.

import { call } from "./api.js";
import { $ } from "./dom.js";

export function setBalance(tokens) {
  $("balance").textContent = String(tokens);
}

export async function loadBalance() {
  const balance = await call("/balance/");
  setBalance(balance.tokens);
  $("cost").textContent = `(${balance.cost_per_message} a message)`;
  return balance;
}
