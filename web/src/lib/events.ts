// The one event socket (/api/v1/events; protocol: overleg/realtime/protocol.py).
// Reconnects with growing pauses and resumes from the last event id, so nothing is missed
// while it was away; when the server cannot replay it sends "resync" and the views reload.
export interface ServerEvent {
  id: number | null;
  type: string;
  data: Record<string, unknown>;
}
type Listener = (e: ServerEvent) => void;
export type SocketState = "connecting" | "open" | "closed";

export class EventSocket {
  private ws: WebSocket | null = null;
  private lastId: number | null = null;
  private retry = 0;
  private timer: number | undefined;
  private stopped = false;
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<(s: SocketState) => void>();
  private urlOf: (() => Promise<string>) | undefined;
  state: SocketState = "closed";

  /** ``url``: where each (re)connection goes, e.g. with a fresh single-use ticket for a
   * meeting participant; by default /api/v1/events with the session cookie. */
  start(url?: () => Promise<string>): void {
    this.stopped = false;
    this.urlOf = url;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(1000);
    this.ws = null;
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onState(listener: (s: SocketState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  send(message: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  private setState(s: SocketState): void {
    this.state = s;
    this.stateListeners.forEach((l) => l(s));
  }

  private connect(): void {
    if (this.urlOf) {
      this.setState("connecting");
      this.urlOf().then(
        (url) => {
          if (this.stopped) return;
          const sep = url.includes("?") ? "&" : "?";
          this.open(this.lastId === null ? url : `${url}${sep}last_event_id=${this.lastId}`);
        },
        () => this.later(),
      );
      return;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const resume = this.lastId === null ? "" : `?last_event_id=${this.lastId}`;
    this.open(`${scheme}://${location.host}/api/v1/events${resume}`);
  }

  private open(url: string): void {
    const ws = new WebSocket(url);
    this.ws = ws;
    this.setState("connecting");
    ws.onopen = () => {
      this.retry = 0;
      this.setState("open");
    };
    ws.onmessage = (m) => {
      let e: ServerEvent;
      try {
        e = JSON.parse(String(m.data)) as ServerEvent;
      } catch {
        return;
      }
      if (e.id !== null && e.id !== undefined) this.lastId = e.id;
      this.listeners.forEach((l) => l(e));
    };
    ws.onclose = (c) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setState("closed");
      // 4001: the session ended (signed out elsewhere): no point in trying again
      if (this.stopped || c.code === 4001) return;
      this.later();
    };
  }

  private later(): void {
    if (this.stopped) return;
    const pause = Math.min(30_000, 500 * 2 ** this.retry) * (0.75 + Math.random() / 2);
    this.retry += 1;
    this.timer = window.setTimeout(() => this.connect(), pause);
  }
}
