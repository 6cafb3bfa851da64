// What to tell a person for each error the API can answer (docs/api.md#errors).
// Clients branch on `code`; `detail` is the server's own words, used for the
// field rules (password validators) whose text already says what to do.

const BY_CODE = {
  invalid_credentials: "Wrong username or password.",
  unique: "That username is taken: choose another.",
  wrong_password: "Your current password is not right.",
  insufficient_tokens:
    "Your balance is spent: this message was not sent, and nothing was charged.",
  provider_error: "The AI could not answer. You were not charged: try again.",
  provider_timeout: "The AI took too long to answer. You were not charged: try again.",
  conversation_busy: "A reply is still being written in this conversation: try again when it ends.",
  not_found: "That conversation no longer exists.",
  request_too_large: "That message is too long.",
  token_not_valid: "Your session has ended: log in again.",
  not_authenticated: "Your session has ended: log in again.",
  permission_denied: "You may not do that.",
  error: "Something went wrong on our side. You were not charged: try again.",
};

/** One sentence for an ApiError (or any error) a person can act on. */
export function describe(error) {
  if (error?.name === "SessionEnded") return BY_CODE.token_not_valid;
  if (error?.name !== "ApiError") {
    return "The server cannot be reached. Check your connection and try again.";
  }
  if (error.code === "throttled") return throttled(error.retryAfter);
  if (error.status >= 500 && !(error.code in BY_CODE)) {
    return "The service is unavailable right now. Try again in a moment.";
  }
  return BY_CODE[error.code] ?? error.detail ?? `The request failed (${error.status}).`;
}

/** The messages for one input field (`attr`), as the server wrote them. */
export function fieldMessages(error, attr) {
  if (error?.name !== "ApiError") return "";
  return error.errors
    .filter((item) => item.attr === attr)
    .map((item) => BY_CODE[item.code] ?? item.detail)
    .join(" ");
}

export function throttled(seconds) {
  if (!Number.isFinite(seconds)) return "Too many attempts. Wait a little, then try again.";
  const wait = seconds === 1 ? "1 second" : `${seconds} seconds`;
  return `Too many attempts. Try again in ${wait}.`;
}
