// Audio and video through Overleg's signalling (docs/api-guide.md, "Audio and video"): one
// HTTP request per offer, the SDP carrying every ICE candidate (no trickle), media going
// DTLS-SRTP between the browser and the media server. No STUN or TURN server is used:
// nothing leaves for another host.
import { api, ApiError, type Schemas } from "../api/client";

export type FeedKind = "camera" | "screen";
export type Kind = "audio" | "video";
export type Headers = Record<string, string> | undefined;

const CONFIG: RTCConfiguration = { iceServers: [], bundlePolicy: "max-bundle" };
/** A bound for gathering host candidates (they come within milliseconds; this only keeps
 * a broken network interface from holding the call up forever). */
const GATHER_BOUND_MS = 5_000;

function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = window.setTimeout(done, GATHER_BOUND_MS);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export interface Publication {
  kind: FeedKind;
  pc: RTCPeerConnection;
  kinds: Set<Kind>;
}

/** Publish ``tracks`` as the caller's ``kind`` feed; the connection, once Janus answered. */
export async function publish(
  meetingId: string,
  headers: Headers,
  kind: FeedKind,
  tracks: MediaStreamTrack[],
): Promise<Publication> {
  const pc = new RTCPeerConnection(CONFIG);
  const stream = new MediaStream(tracks);
  for (const track of tracks) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const kinds = new Set(tracks.map((t) => t.kind as Kind));
    const answer = await api.post("/api/v1/meetings/{meeting_id}/media/publish", {
      path: { meeting_id: meetingId },
      headers,
      body: { kind, sdp: pc.localDescription!.sdp, audio: kinds.has("audio"), video: kinds.has("video") },
    });
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    return { kind, pc, kinds };
  } catch (e) {
    pc.close();
    throw e;
  }
}

export interface Subscription {
  key: string;
  participantId: string;
  kind: FeedKind;
  pc: RTCPeerConnection;
  stream: MediaStream;
}

export function feedKey(f: { participant_id: string; kind: FeedKind }): string {
  return `${f.participant_id}:${f.kind}`;
}

/** Receive one feed: Overleg returns the media server's offer, the browser answers it. */
export async function subscribe(meetingId: string, headers: Headers, feed: Schemas["FeedRef"]): Promise<Subscription> {
  const offer = await api.post("/api/v1/meetings/{meeting_id}/media/subscriptions", {
    path: { meeting_id: meetingId },
    headers,
    body: { feeds: [feed] },
  });
  const pc = new RTCPeerConnection(CONFIG);
  const stream = new MediaStream();
  pc.ontrack = (e) => stream.addTrack(e.track);
  try {
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    await api.post("/api/v1/meetings/{meeting_id}/media/subscriptions/{subscription_id}/answer", {
      path: { meeting_id: meetingId, subscription_id: offer.subscription_id },
      headers,
      body: { sdp: pc.localDescription!.sdp },
    });
  } catch (e) {
    pc.close();
    throw e;
  }
  const kind = feed.kind ?? "camera";
  return { key: feedKey({ participant_id: feed.participant_id, kind }), participantId: feed.participant_id, kind, pc, stream };
}

/** A feed that was just announced may not be subscribable yet (the media server lists it
 * once its publisher's connection is up): 404 until then. */
export function notYet(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}
