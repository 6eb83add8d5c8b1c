// Talking to the Docket REST API: JSON in and out, the CSRF header on every change,
// one error type, and server-sent events for streamed answers.

let csrfToken = null;

/** Remember the CSRF token the server gave with the session (POST /api/session, GET /api/me). */
export function setCsrf(token) {
  csrfToken = token || null;
}

function csrf() {
  if (csrfToken) return csrfToken;
  const match = document.cookie.match(/(?:^|;\s*)docket_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** An error answered by the server: {error: {code, message, status}}. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

const listeners = { unauthorized: [] };

/** Called when a request answers 401 (the session expired or was signed out elsewhere). */
export function onUnauthorized(fn) {
  listeners.unauthorized.push(fn);
}

async function errorFrom(response) {
  let code = "http_error";
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    } else if (body && body.detail) {
      message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

function request(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrf();
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

async function check(response, path) {
  if (response.ok) return response;
  const error = await errorFrom(response);
  if (response.status === 401 && !path.startsWith("/api/session") && !path.startsWith("/api/setup")) {
    listeners.unauthorized.forEach((fn) => fn(error));
  }
  throw error;
}

/** Call the API; resolves to the parsed JSON (or null for an empty answer), rejects with ApiError. */
export async function api(method, path, body) {
  let response;
  try {
    response = await request(method, path, body);
  } catch (err) {
    throw new ApiError(0, "network", "the server cannot be reached; check that docket serve is running");
  }
  await check(response, path);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** Build "path?a=1&b=2", leaving out empty values. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * POST a question with {stream: true} and read the server-sent events: `token` events call
 * onToken(text); the `answer` event is the result; an `error` event rejects with ApiError.
 * A server that answers plain JSON instead is accepted too.
 */
export async function stream(path, body, onToken) {
  let response;
  try {
    response = await request("POST", path, { ...body, stream: true }, { Accept: "text/event-stream" });
  } catch {
    throw new ApiError(0, "network", "the server cannot be reached; check that docket serve is running");
  }
  await check(response, path);
  const type = response.headers.get("content-type") || "";
  if (!type.includes("text/event-stream") || !response.body) {
    return response.json();
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let result = null;
  const handle = (block) => {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (!data.length) return;
    const payload = JSON.parse(data.join("\n"));
    if (event === "token") onToken(payload.text || "");
    else if (event === "answer") result = payload;
    else if (event === "error") {
      const e = payload.error || {};
      throw new ApiError(e.status || 500, e.code || "error", e.message || "the answer failed");
    }
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += decoder.decode(value, { stream: true });
    buffer = buffer.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      handle(block);
    }
    if (done) break;
  }
  if (buffer.trim()) handle(buffer);
  if (result === null) throw new ApiError(502, "stream_ended", "the answer stopped before it was complete; try again");
  return result;
}

/** Items of a list answer whether the server sends [..] or {key: [..]}. */
export function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  return [];
}
