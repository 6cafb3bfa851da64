// DOM helpers. Everything the client shows is written as text (textContent,
// text nodes): model output and user input are never parsed as HTML. The
// page's Content-Security-Policy enforces it with Trusted Types.

export const $ = (id) => document.getElementById(id);

/** A new element with attributes and text or element children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Show `text` in an error or notice element, or hide it when empty. */
export function say(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

export function show(node, visible) {
  node.hidden = !visible;
}

/** "2026-11-29 07:05" from an ISO 8601 UTC timestamp. */
export function utc(timestamp) {
  return timestamp.slice(0, 16).replace("T", " ");
}
