// Server-sent events read from a fetch() body as they arrive (EventSource
// cannot POST). Follows the HTML standard's parsing rules: lines end in CR, LF
// or CRLF; a blank line dispatches; lines starting with ":" are comments (the
// server's keep-alives); "data" lines join with LF.

/** Yields {event, data} for each event of a text/event-stream body. */
export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "";
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (;;) {
        const end = buffer.search(/[\r\n]/);
        // A CR as the last character may be the first half of a CRLF.
        if (end < 0 || (buffer[end] === "\r" && end === buffer.length - 1)) break;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(buffer.startsWith("\r\n", end) ? end + 2 : end + 1);
        if (line === "") {
          if (data.length > 0) yield { event: event || "message", data: data.join("\n") };
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let content = colon < 0 ? "" : line.slice(colon + 1);
        if (content.startsWith(" ")) content = content.slice(1);
        if (field === "event") event = content;
        else if (field === "data") data.push(content);
      }
    }
  } finally {
    // Stopped early, or the request aborted: let the connection go.
    reader.cancel().catch(() => {});
  }
}
