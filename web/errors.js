// The API's error format: {"type", "errors": [{"code", "detail", "attr"}]}.

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const errors = Array.isArray(body?.errors) ? body.errors : [];
    super(errors[0]?.detail ?? `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.errors = errors;
    this.code = errors[0]?.code ?? null;
    this.detail = errors[0]?.detail ?? null;
    // Seconds, from the Retry-After header of a 429.
    this.retryAfter = retryAfter;
  }
}

/** The session is over (logged out, ended elsewhere, or never started). */
export class SessionEnded extends Error {
  constructor() {
    super("The session has ended");
    this.name = "SessionEnded";
  }
}

/** The ApiError a failed response stands for (its body is read). */
export async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // A proxy's HTML page, or no body: the status alone speaks.
  }
  const header = response.headers.get("Retry-After");
  const retryAfter = header !== null && /^\d+$/.test(header) ? Number(header) : NaN;
  return new ApiError(response.status, body, retryAfter);
}
