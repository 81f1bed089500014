// The live stream of a decision set's events over the WebSocket API.
//
// - Every event is rendered exactly once and in order: EventLog drops anything at or
//   below the last sequence number it accepted.
// - After a drop the client reconnects by itself with exponential backoff (a visible
//   "reconnecting" state) and resubscribes with `since` = the last sequence it rendered.
// - A frame too large for API Gateway arrives by reference (`payload_ref`); its payload is
//   fetched from the REST events endpoint before it (and anything after it) is rendered.
// - `ping` keeps the connection alive (API Gateway closes idle ones after 10 minutes) and
//   the connection is renewed before API Gateway's 2-hour limit.

export interface StreamEvent {
  type: string;
  seq: number;
  decision_set_id: string;
  node: string | null;
  payload: any;
  created_at: string;
  checkpoint_id?: string | null;
  payload_ref?: string;
}

export type StreamState = "connecting" | "live" | "reconnecting" | "closed";

export class EventLog {
  readonly events: StreamEvent[] = [];
  lastSeq = 0;

  /** Accept an event if it is newer than every accepted one; false for a duplicate. */
  add(event: StreamEvent): boolean {
    if (!Number.isInteger(event.seq) || event.seq <= this.lastSeq) return false;
    this.events.push(event);
    this.lastSeq = event.seq;
    return true;
  }
}

/** The wait before reconnect attempt `attempt` (0-based): 0.5 s doubling to 30 s, with jitter. */
export function backoff(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.75 + 0.5 * random()));
}

export interface SocketLike {
  readyState: number;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface StreamOptions {
  url: string; // ws(s)://host/path (the token is added)
  token: () => string;
  decisionSetId: string;
  onEvent: (event: StreamEvent) => void;
  onState?: (state: StreamState, detail?: string) => void;
  fetchEvent: (ref: string) => Promise<StreamEvent | null>;
  since?: number;
  socket?: (url: string) => SocketLike;
  timers?: {
    setTimeout: (fn: () => void, ms: number) => any;
    clearTimeout: (id: any) => void;
    setInterval: (fn: () => void, ms: number) => any;
    clearInterval: (id: any) => void;
  };
  random?: () => number;
  pingEveryMs?: number;
  renewAfterMs?: number;
  onFrame?: (event: StreamEvent) => void; // arrival of a frame (benchmarks)
}

export const PING_EVERY_MS = 5 * 60 * 1000;
export const RENEW_AFTER_MS = 110 * 60 * 1000; // API Gateway closes connections at 2 hours

export class LiveStream {
  readonly log = new EventLog();
  state: StreamState = "connecting";
  attempts = 0;
  private ws: SocketLike | null = null;
  private stopped = false;
  private retry: any = null;
  private ping: any = null;
  private renew: any = null;
  private chain: Promise<void> = Promise.resolve();
  private readonly timers: NonNullable<StreamOptions["timers"]>;

  constructor(private readonly options: StreamOptions) {
    this.log.lastSeq = options.since ?? 0;
    this.timers = options.timers ?? {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (id) => clearTimeout(id),
      setInterval: (fn, ms) => setInterval(fn, ms),
      clearInterval: (id) => clearInterval(id),
    };
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Stop for good (leaving the page). */
  close(): void {
    this.stopped = true;
    this.clearTimers();
    if (this.retry !== null) this.timers.clearTimeout(this.retry);
    this.retry = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "bye");
    this.setState("closed");
  }

  /** Close the socket as a network drop would (the stream reconnects). */
  drop(): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null; // its close event, which comes later, is ignored
    this.clearTimers();
    ws.close(4000, "dropped");
    this.scheduleReconnect("the connection dropped");
  }

  private setState(state: StreamState, detail?: string): void {
    this.state = state;
    this.options.onState?.(state, detail);
  }

  private connect(): void {
    if (this.stopped) return;
    const url = `${this.options.url}${this.options.url.includes("?") ? "&" : "?"}token=${encodeURIComponent(this.options.token())}`;
    const make = this.options.socket ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    let ws: SocketLike;
    try {
      ws = make(url);
    } catch (err) {
      this.scheduleReconnect(String(err));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      ws.send(
        JSON.stringify({
          action: "subscribe",
          decision_set_id: this.options.decisionSetId,
          since: this.log.lastSeq,
        }),
      );
      this.clearTimers();
      const every = this.options.pingEveryMs ?? PING_EVERY_MS;
      this.ping = this.timers.setInterval(() => {
        if (this.ws === ws && ws.readyState === 1) ws.send(JSON.stringify({ action: "ping" }));
      }, every);
      this.renew = this.timers.setTimeout(() => {
        if (this.ws === ws) ws.close(4001, "renewing before the 2-hour limit");
      }, this.options.renewAfterMs ?? RENEW_AFTER_MS);
    };
    ws.onmessage = (message) => {
      if (this.ws !== ws) return;
      this.receive(String(message.data));
    };
    ws.onerror = () => {
      /* a close follows */
    };
    ws.onclose = (ev: any) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      if (this.stopped) return;
      this.scheduleReconnect(ev?.reason || "the connection closed");
    };
  }

  private scheduleReconnect(detail: string): void {
    if (this.stopped) return;
    this.setState("reconnecting", detail);
    const wait = backoff(this.attempts++, this.options.random);
    this.retry = this.timers.setTimeout(() => {
      this.retry = null;
      this.connect();
    }, wait);
  }

  private clearTimers(): void {
    if (this.ping !== null) this.timers.clearInterval(this.ping);
    if (this.renew !== null) this.timers.clearTimeout(this.renew);
    this.ping = this.renew = null;
  }

  /** Handle one frame (exposed for tests). */
  receive(text: string): void {
    let message: any;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    if (message.type === "subscribed") {
      this.attempts = 0;
      this.setState("live");
      return;
    }
    if (message.type === "pong" || message.type === "unsubscribed") return;
    if (message.type === "error" && typeof message.seq !== "number") {
      this.options.onState?.(this.state, message.message);
      return;
    }
    if (typeof message.seq !== "number") return;
    const event = message as StreamEvent;
    this.options.onFrame?.(event);
    // Keep the order even when a payload has to be fetched first.
    this.chain = this.chain.then(async () => {
      let ready: StreamEvent | null = event;
      if (event.payload_ref && event.payload == null) {
        try {
          ready = await this.options.fetchEvent(event.payload_ref);
        } catch {
          ready = null;
        }
        if (!ready) ready = { ...event, payload: { unavailable: true } };
      }
      if (this.log.add(ready)) this.options.onEvent(ready);
    });
  }

  /** Resolves when every frame received so far has been rendered (tests). */
  settled(): Promise<void> {
    return this.chain;
  }
}
