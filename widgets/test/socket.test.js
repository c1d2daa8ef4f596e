import test from "node:test";
import assert from "node:assert/strict";
import { Socket } from "../src/socket.js";
import { Outbox } from "../src/outbox.js";

class FakeTransport {
  static opened = [];
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.sent = [];
    FakeTransport.opened.push(this);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
}

function setup() {
  FakeTransport.opened = [];
  const timers = { queue: [], setTimeout(fn, ms) { this.queue.push({ fn, ms }); return this.queue.length; } };
  let n = 0;
  const actions = [];
  const socket = new Socket({ url: "ws://e/v1/ws", page: () => ({ url: "https://s/" }),
    outbox: new Outbox(null), onAction: (a) => actions.push(a), WebSocketImpl: FakeTransport,
    timers, random: () => 0.5, newId: () => `e${++n}` });
  return { socket, timers, actions };
}

test("hello first, then unacked events are resent after a reconnect", () => {
  const { socket, timers } = setup();
  socket.send("pageview", { url: "https://s/" }); // queued while offline
  socket.connect();
  const first = FakeTransport.opened[0];
  assert.deepEqual(first.protocols, ["ondo.v1"]);
  first.onopen();
  assert.deepEqual(first.sent.map((f) => f.t), ["hello", "event"]);
  first.onclose({ code: 1006 });
  assert.equal(timers.queue.length, 1);
  timers.queue[0].fn();
  const second = FakeTransport.opened[1];
  second.onopen();
  assert.deepEqual(second.sent.map((f) => f.id || f.t), ["hello", "e1"]);
  second.onmessage({ data: JSON.stringify({ t: "ack", id: "e1" }) });
  assert.deepEqual(socket.outbox.pending(), []);
});

test("closes that mean stop do not reconnect", () => {
  const { socket, timers } = setup();
  socket.connect();
  FakeTransport.opened[0].onclose({ code: 1009 });
  assert.equal(timers.queue.length, 0);
  assert.equal(socket.stopped, true);
});

test("unavailable keeps the event for a resend; a bad field drops it", () => {
  const { socket, timers, actions } = setup();
  socket.connect();
  const ws = FakeTransport.opened[0];
  ws.onopen();
  socket.send("cart", { items: [] });
  socket.send("cart", { items: "x" });
  ws.onmessage({ data: JSON.stringify({ t: "error", code: "unavailable", id: "e1" }) });
  ws.onmessage({ data: JSON.stringify({ t: "error", code: "bad_field", id: "e2" }) });
  assert.deepEqual(socket.outbox.pending().map((e) => e.id), ["e1"]);
  timers.queue[0].fn();
  assert.equal(ws.sent.at(-1).id, "e1");
  ws.onmessage({ data: JSON.stringify({ t: "action", rule: "r", widget: "push_note" }) });
  assert.equal(actions.length, 1);
});

test("each storage outage starts its resend backoff from the base delay", () => {
  const { socket, timers } = setup();
  socket.connect();
  const ws = FakeTransport.opened[0];
  ws.onopen();
  ws.onmessage({ data: JSON.stringify({ t: "welcome" }) });
  const outage = () => {
    const id = socket.send("pageview", { url: "https://s/" });
    const delays = [];
    for (let n = 0; n < 3; n += 1) { // three unavailable answers in a row: growing delays
      ws.onmessage({ data: JSON.stringify({ t: "error", code: "unavailable", id }) });
      const { fn, ms } = timers.queue.at(-1);
      delays.push(ms);
      fn();
    }
    ws.onmessage({ data: JSON.stringify({ t: "ack", id }) }); // storage is back
    return delays;
  };
  const first = outage();
  assert.ok(first[0] < first[1] && first[1] < first[2], String(first));
  assert.deepEqual(outage(), first); // the same connection, a later outage: same delays
});
