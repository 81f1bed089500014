import { describe, expect, it } from "vitest";
import { backoff, EventLog, LiveStream, type SocketLike, type StreamEvent } from "./stream";

function ev(seq: number, payload: any = { decision: `card ${seq}` }): StreamEvent {
  return { type: "reason-card", seq, decision_set_id: "ds-1", node: "planner", payload, created_at: "2026-01-01T00:00:00Z" };
}

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: any[] = [];
  onopen: any = null;
  onmessage: any = null;
  onclose: any = null;
  onerror: any = null;
  constructor(readonly url: string) {}
  send(data: string) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; this.onclose?.({ reason: "closed" }); }
  open() { this.readyState = 1; this.onopen?.({}); }
  frame(message: any) { this.onmessage?.({ data: JSON.stringify(message) }); }
}

function harness(fetchEvent = async (_: string) => null as StreamEvent | null) {
  const sockets: FakeSocket[] = [];
  const timeouts: { fn: () => void; ms: number }[] = [];
  const rendered: number[] = [];
  const states: string[] = [];
  const stream = new LiveStream({
    url: "ws://x/ws",
    token: () => "t",
    decisionSetId: "ds-1",
    onEvent: (e) => rendered.push(e.seq),
    onState: (s) => states.push(s),
    fetchEvent,
    socket: (url) => { const s = new FakeSocket(url); sockets.push(s); return s; },
    random: () => 0.5,
    timers: {
      setTimeout: (fn, ms) => { timeouts.push({ fn, ms }); return timeouts.length; },
      clearTimeout: () => {},
      setInterval: () => 0,
      clearInterval: () => {},
    },
  });
  return { stream, sockets, timeouts, rendered, states };
}

describe("EventLog", () => {
  it("keeps order and drops duplicates and older events", () => {
    const log = new EventLog();
    expect(log.add(ev(1))).toBe(true);
    expect(log.add(ev(3))).toBe(true);
    expect(log.add(ev(3))).toBe(false);
    expect(log.add(ev(2))).toBe(false);
    expect(log.events.map((e) => e.seq)).toEqual([1, 3]);
  });
});

describe("backoff", () => {
  it("doubles up to 30 seconds", () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3].map((n) => backoff(n, mid))).toEqual([500, 1000, 2000, 4000]);
    expect(backoff(20, mid)).toBe(30000);
  });
});

describe("LiveStream", () => {
  it("subscribes with the token, renders each event once and in order", async () => {
    const h = harness();
    h.stream.start();
    const s = h.sockets[0];
    expect(s.url).toBe("ws://x/ws?token=t");
    s.open();
    expect(s.sent[0]).toEqual({ action: "subscribe", decision_set_id: "ds-1", since: 0 });
    s.frame({ type: "subscribed" });
    s.frame(ev(1));
    s.frame(ev(2));
    s.frame(ev(2));
    s.frame(ev(1));
    await h.stream.settled();
    expect(h.rendered).toEqual([1, 2]);
    expect(h.states).toContain("live");
  });

  it("reconnects after a drop and resubscribes since the last rendered event", async () => {
    const h = harness();
    h.stream.start();
    h.sockets[0].open();
    h.sockets[0].frame(ev(1));
    h.sockets[0].frame(ev(4));
    await h.stream.settled();
    h.stream.drop();
    expect(h.states.at(-1)).toBe("reconnecting");
    expect(h.timeouts.at(-1)!.ms).toBe(500);
    h.timeouts.at(-1)!.fn();
    const second = h.sockets[1];
    second.open();
    expect(second.sent[0]).toEqual({ action: "subscribe", decision_set_id: "ds-1", since: 4 });
    second.frame(ev(4)); // replayed by an at-least-once server
    second.frame(ev(5));
    await h.stream.settled();
    expect(h.rendered).toEqual([1, 4, 5]);
  });

  it("backs off longer after repeated failures", () => {
    const h = harness();
    h.stream.start();
    h.sockets[0].close();
    h.timeouts.at(-1)!.fn();
    h.sockets[1].close();
    expect(h.timeouts.map((t) => t.ms)).toEqual([500, 1000]);
  });

  it("fetches a payload sent by reference before rendering what follows", async () => {
    let release: (e: StreamEvent) => void = () => {};
    const h = harness((ref) => {
      expect(ref).toBe("/decision-sets/ds-1/events?after=1&limit=1");
      return new Promise((resolve) => (release = resolve));
    });
    h.stream.start();
    h.sockets[0].open();
    h.sockets[0].frame({ ...ev(2), payload: null, payload_ref: "/decision-sets/ds-1/events?after=1&limit=1" });
    h.sockets[0].frame(ev(3));
    await Promise.resolve();
    expect(h.rendered).toEqual([]);
    release(ev(2, { decision: "big" }));
    await h.stream.settled();
    expect(h.rendered).toEqual([2, 3]);
  });

  it("stops for good when closed", () => {
    const h = harness();
    h.stream.start();
    h.sockets[0].open();
    h.stream.close();
    expect(h.states.at(-1)).toBe("closed");
    expect(h.timeouts.length).toBe(1); // only the renewal timer of the open socket
  });
});
