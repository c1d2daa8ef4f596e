// The engine connection: hello, events with ids, acks, actions; reconnects with
// full-jitter backoff as the protocol's reconnect policy says; the transport
// (WebSocket), the clock and the randomness are injected so this is testable.
import { backoffDelay } from "./backoff.js";
import { ERROR_CODE, RECONNECT_AFTER, SUBPROTOCOL_JSON } from "./protocol.js";
import { randomId } from "./ids.js";

const KEEP = new Set([ERROR_CODE.UNAVAILABLE, ERROR_CODE.RATE_LIMITED, ERROR_CODE.NOT_READY]);

export class Socket {
  constructor({ url, page, outbox, onAction, WebSocketImpl, timers, random, newId }) {
    this.url = url;
    this.page = page;
    this.outbox = outbox;
    this.onAction = onAction;
    this.WebSocketImpl = WebSocketImpl;
    this.timers = timers || globalThis;
    this.random = random || Math.random;
    this.newId = newId || (() => randomId(10));
    this.attempt = 0; // reconnects since the last welcome
    this.resends = 0; // resends since the last ack: an outage's own backoff
    this.ws = null;
    this.ready = false;
    this.stopped = false;
    this.retry = null;
  }

  connect() {
    if (this.stopped) return;
    const ws = new this.WebSocketImpl(this.url, [SUBPROTOCOL_JSON]);
    this.ws = ws;
    ws.onopen = () => {
      this.ready = true;
      ws.send(JSON.stringify({ t: "hello", page: this.page() }));
      for (const event of this.outbox.pending()) ws.send(JSON.stringify(event));
    };
    ws.onmessage = (message) => this.receive(message.data);
    ws.onclose = (close) => {
      this.ready = false;
      if (this.ws !== ws) return;
      this.ws = null;
      const again = RECONNECT_AFTER[String(close.code)];
      if (again === false) {
        this.stopped = true;
        return;
      }
      this.reconnectLater();
    };
    ws.onerror = () => {};
  }

  reconnectLater() {
    const delay = backoffDelay(this.attempt, this.random);
    this.attempt += 1;
    this.timers.setTimeout(() => this.connect(), delay);
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (_) {
      return;
    }
    if (frame.t === "welcome") {
      this.attempt = 0;
      if (this.onWelcome) this.onWelcome(frame);
    } else if (frame.t === "ack") {
      this.resends = 0; // storage answers again: the next outage starts from the base delay
      this.outbox.ack(frame.id);
    } else if (frame.t === "action") {
      this.onAction(frame);
    } else if (frame.t === "error" && frame.id) {
      if (KEEP.has(frame.code)) {
        this.resendLater();
      } else {
        this.outbox.ack(frame.id); // a bad event: resending cannot help
      }
    }
  }

  resendLater() {
    if (this.retry) return;
    const delay = 500 + backoffDelay(this.resends, this.random);
    this.resends += 1;
    this.retry = this.timers.setTimeout(() => {
      this.retry = null;
      if (!this.ready || !this.ws) return;
      for (const event of this.outbox.pending()) this.ws.send(JSON.stringify(event));
    }, delay);
  }

  send(kind, data) {
    const event = { t: "event", id: this.newId(), kind, at: Date.now(), data };
    this.outbox.add(event);
    if (this.ready && this.ws) this.ws.send(JSON.stringify(event));
    return event.id;
  }
}
