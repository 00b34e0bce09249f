// The page talks to aidmap only through its public GraphQL API, like any partner app:
// POST /graphql for queries and mutations, graphql-transport-ws on the same path for live events.
import { lang } from "./i18n.js";

export const session = {
  get token() { return localStorage.getItem("aidmap.token"); },
  set token(value) { value ? localStorage.setItem("aidmap.token", value) : localStorage.removeItem("aidmap.token"); },
};

export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join(" "));
    this.errors = errors;
  }
}

/** Run a query or mutation; top-level errors throw ApiError, payload errors are returned to the caller. */
export async function gql(query, variables = {}) {
  const headers = { "Content-Type": "application/json", "Accept-Language": lang() };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json().catch(() => ({ errors: [{ message: response.statusText }] }));
  if (body.errors && body.errors.length) throw new ApiError(body.errors);
  return body.data;
}

/** A graphql-transport-ws connection that resubscribes after a drop, resuming each stream from its last cursor. */
export class LiveSocket {
  constructor({ onState } = {}) {
    this.subs = new Map();
    this.nextId = 1;
    this.onState = onState || (() => {});
    this.retry = 500;
  }

  start() {
    this.stopped = false;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    const ws = (this.ws = new WebSocket(url, "graphql-transport-ws"));
    ws.onopen = () => {
      const payload = session.token ? { authorization: `Bearer ${session.token}` } : {};
      ws.send(JSON.stringify({ type: "connection_init", payload }));
    };
    ws.onmessage = (event) => this.handle(JSON.parse(event.data));
    ws.onclose = () => {
      this.onState(false);
      if (this.stopped) return;
      setTimeout(() => this.start(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    };
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close();
    this.subs.clear();
  }

  handle(message) {
    if (message.type === "connection_ack") {
      this.retry = 500;
      this.onState(true);
      for (const [id, sub] of this.subs) {
        this.send(id, sub);
        // A stream with no cursor yet cannot replay what happened before it was registered (the
        // socket may open after the page loaded, or reopen after a drop): the screen reloads instead.
        if (!sub.after) sub.onEvent(null);
      }
    } else if (message.type === "ping") {
      this.ws.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next") {
      const sub = this.subs.get(message.id);
      if (!sub) return;
      const data = message.payload.data || {};
      const event = Object.values(data)[0];
      if (event && event.cursor) sub.after = event.cursor;
      sub.onEvent(event, message.payload.errors);
    }
  }

  send(id, sub) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const variables = { ...sub.variables, ...(sub.after ? { after: sub.after } : {}) };
    this.ws.send(JSON.stringify({ id, type: "subscribe", payload: { query: sub.query, variables } }));
  }

  subscribe(query, variables, onEvent) {
    const id = String(this.nextId++);
    const sub = { query, variables, onEvent, after: null };
    this.subs.set(id, sub);
    this.send(id, sub);
    return () => {
      this.subs.delete(id);
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ id, type: "complete" }));
    };
  }
}
