// The camera and microphone: opened once on the pre-join screen, kept for the meeting
// (turning them off disables the track; nothing is renegotiated), and stopped at the end.
import type { Schemas } from "../api/client";

export type DeviceProblem = "denied" | "none" | "unsupported" | null;

export interface Devices {
  stream: MediaStream | null;
  /** what the person chose on the pre-join screen */
  mic: boolean;
  camera: boolean;
  problem: DeviceProblem;
}

// modest: meetings run on the organisation's own media server and often on laptops
const VIDEO: MediaTrackConstraints = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } };

/** Ask for camera and microphone (falling back to one of them); never throws. */
export async function openDevices(): Promise<{ stream: MediaStream | null; problem: DeviceProblem }> {
  if (!navigator.mediaDevices?.getUserMedia) return { stream: null, problem: "unsupported" };
  for (const constraints of [{ audio: true, video: VIDEO }, { audio: true }, { video: VIDEO }]) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia(constraints), problem: null };
    } catch (e) {
      if ((e as DOMException).name === "NotAllowedError") return { stream: null, problem: "denied" };
    }
  }
  return { stream: null, problem: "none" };
}

export function stopDevices(stream: MediaStream | null): void {
  stream?.getTracks().forEach((t) => t.stop());
}

export function track(stream: MediaStream | null, kind: "audio" | "video"): MediaStreamTrack | undefined {
  return stream?.getTracks().find((t) => t.kind === kind && t.readyState === "live");
}

// --- from the join link to the meeting view (signed-in people continue inside the workspace)

export interface Handoff {
  meetingId: string;
  join: Pick<Schemas["JoinResult"], "meeting" | "me">;
  devices: Devices;
}

let pending: Handoff | null = null;

export function handOff(h: Handoff): void {
  pending = h;
}

/** The join that the join page made for ``meetingId``, with the devices it opened. */
export function peekHandoff(meetingId: string): Handoff | null {
  return pending?.meetingId === meetingId ? pending : null;
}

/** The meeting view took it over: a later visit starts with the pre-join screen. */
export function clearHandoff(): void {
  pending = null;
}
