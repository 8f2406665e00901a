// One person's audio and video in one meeting: what they publish (camera feed, screen
// share) and the feeds they receive, kept in step with the meeting's events. Publishing
// is serialised (one offer at a time); every subscription carries a generation so that a
// late answer for a feed that went away is dropped.
import { api } from "../api/client";
import { feedKey, notYet, publish, subscribe, type FeedKind, type Headers, type Kind, type Publication, type Subscription } from "./rtc";

const SUBSCRIBE_ATTEMPTS = 8;
/** how often a failed connection is set up again before the person is told */
const RETRIES = 3;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => window.setTimeout(resolve, ms));
}

export class MediaSession {
  camera: Publication | null = null;
  screen: { pub: Publication; stream: MediaStream } | null = null;
  readonly remote = new Map<string, Subscription>();
  /** set when publishing failed: shown to the person */
  failure: unknown = null;
  private readonly generation = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** what the camera feed may carry, as last asked (to publish again after a failure) */
  private allowed = new Set<Kind>();
  private cameraFailures = 0;
  private cleared: Promise<void> | null = null;

  constructor(
    readonly meetingId: string,
    readonly headers: Headers,
    readonly local: MediaStream | null,
    readonly myId: string,
    private readonly changed: () => void,
  ) {}

  /** Once, before anything is published or received: what an earlier page of this
   * person (before a reload) set up at the server is stale; stop it first. */
  private clear(): Promise<void> {
    this.cleared ??= api
      .del("/api/v1/meetings/{meeting_id}/media", { path: { meeting_id: this.meetingId }, headers: this.headers })
      .then(
        () => undefined,
        () => undefined,
      );
    return this.cleared;
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.chain.then(job, job);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Publish the camera feed with what may be sent now (``allowed``); publish again when
   * more became allowed. Less allowed needs nothing: the media server mutes it. */
  ensureCamera(allowed: Set<Kind>): Promise<void> {
    this.allowed = allowed;
    return this.serial(async () => {
      if (this.closed || !this.local) return;
      const tracks = this.local.getTracks().filter((t) => allowed.has(t.kind as Kind) && t.readyState === "live");
      if (tracks.length === 0) return;
      const have = this.camera?.kinds ?? new Set<Kind>();
      if (this.camera && tracks.every((t) => have.has(t.kind as Kind)) && this.camera.pc.connectionState !== "failed") return;
      if (this.camera) await this.unpublish("camera");
      await this.clear();
      try {
        const pub = await publish(this.meetingId, this.headers, "camera", tracks);
        this.camera = pub;
        this.failure = null;
        pub.pc.addEventListener("connectionstatechange", () => this.watchCamera(pub));
      } catch (e) {
        this.failure = e;
      }
      this.changed();
    });
  }

  /** The camera feed's connection failed (a network change, the media server lost it):
   * publish it again, a few times, with growing pauses. */
  private watchCamera(pub: Publication): void {
    const state = pub.pc.connectionState;
    if (state === "connected") this.cameraFailures = 0;
    if (state !== "failed" || this.camera !== pub || this.closed || this.cameraFailures >= RETRIES) return;
    this.cameraFailures += 1;
    void pause(1_000 * 2 ** this.cameraFailures).then(() => {
      if (this.camera === pub && !this.closed) void this.ensureCamera(this.allowed);
    });
  }

  /** After a reset of the media server: publish again what was published. */
  republish(): Promise<void> {
    return this.ensureCamera(this.allowed);
  }

  private async unpublish(kind: FeedKind): Promise<void> {
    const pub = kind === "camera" ? this.camera : this.screen?.pub;
    if (!pub) return;
    pub.pc.close();
    if (kind === "camera") this.camera = null;
    else {
      this.screen?.stream.getTracks().forEach((t) => t.stop());
      this.screen = null;
    }
    await api
      .del("/api/v1/meetings/{meeting_id}/media/publish/{kind}", { path: { meeting_id: this.meetingId, kind }, headers: this.headers })
      .catch(() => undefined); // gone already (a reset, a removal): nothing to stop
  }

  /** Share the screen (the browser asks which one); resolves when it is published. */
  shareScreen(): Promise<void> {
    return this.serial(async () => {
      if (this.closed || this.screen) return;
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      const [video] = stream.getVideoTracks();
      if (!video) return;
      try {
        const pub = await publish(this.meetingId, this.headers, "screen", [video]);
        this.screen = { pub, stream };
      } catch (e) {
        stream.getTracks().forEach((t) => t.stop());
        throw e;
      }
      // "Stop sharing" in the browser's own bar ends the track
      video.addEventListener("ended", () => void this.stopScreen());
      this.changed();
    });
  }

  stopScreen(): Promise<void> {
    return this.serial(async () => {
      await this.unpublish("screen");
      this.changed();
    });
  }

  /** Receive every feed being published now (after entering, a reconnect or a reset). */
  async loadFeeds(): Promise<void> {
    await this.clear();
    const feeds = await api.get("/api/v1/meetings/{meeting_id}/media/feeds", {
      path: { meeting_id: this.meetingId },
      headers: this.headers,
    });
    const live = new Set(feeds.map(feedKey));
    for (const key of [...this.remote.keys()]) if (!live.has(key)) this.drop(key);
    for (const f of feeds) if (f.participant_id !== this.myId && !this.remote.has(feedKey(f))) void this.receive(f.participant_id, f.kind);
  }

  /** A feed was (re)published: receive it (again: its media-server id changed). */
  async receive(participantId: string, kind: FeedKind, retry = 0): Promise<void> {
    if (this.closed || participantId === this.myId) return;
    const key = feedKey({ participant_id: participantId, kind });
    const gen = (this.generation.get(key) ?? 0) + 1;
    this.generation.set(key, gen);
    this.close1(key);
    await this.clear();
    for (let attempt = 0; attempt < SUBSCRIBE_ATTEMPTS; attempt++) {
      try {
        const sub = await subscribe(this.meetingId, this.headers, { participant_id: participantId, kind });
        if (this.closed || this.generation.get(key) !== gen) {
          sub.pc.close();
          return;
        }
        this.remote.set(key, sub);
        sub.pc.addEventListener("connectionstatechange", () => {
          // a received feed whose connection failed is asked for again (bounded)
          if (sub.pc.connectionState !== "failed" || this.remote.get(key) !== sub || retry >= RETRIES) return;
          void pause(1_000 * 2 ** retry).then(() => {
            if (this.remote.get(key) === sub) void this.receive(participantId, kind, retry + 1);
          });
        });
        this.changed();
        return;
      } catch (e) {
        if (!notYet(e) || this.generation.get(key) !== gen) return;
        await pause(Math.min(4_000, 250 * 2 ** attempt)); // its publisher is still connecting
      }
    }
  }

  drop(key: string): void {
    this.generation.set(key, (this.generation.get(key) ?? 0) + 1);
    if (this.close1(key)) this.changed();
  }

  dropParticipant(participantId: string): void {
    for (const kind of ["camera", "screen"] as const) this.drop(feedKey({ participant_id: participantId, kind }));
  }

  private close1(key: string): boolean {
    const sub = this.remote.get(key);
    if (!sub) return false;
    sub.pc.close();
    this.remote.delete(key);
    return true;
  }

  /** The media server restarted: everything is to be set up again. */
  reset(): void {
    for (const key of [...this.remote.keys()]) this.drop(key);
    this.camera?.pc.close();
    this.camera = null;
    this.screen?.pub.pc.close();
    this.screen?.stream.getTracks().forEach((t) => t.stop());
    this.screen = null;
    this.changed();
  }

  /** Stop everything here (leaving, removed, the meeting ended, the view closed); the
   * server stops the rest when the person leaves. */
  close(): void {
    if (this.closed) return;
    this.reset();
    this.closed = true;
  }
}
