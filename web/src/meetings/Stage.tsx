// The tiles: everyone in the meeting (video when their camera is on and their feed has
// arrived, else their initials), screen shares first and larger. Remote sound plays from
// one hidden <audio> per received camera feed.
import { useEffect, useRef } from "react";
import type { Schemas } from "../api/client";
import { useI18n } from "../i18n";
import type { Subscription } from "./rtc";

type Participant = Schemas["ParticipantPublic"];

export function Video({ stream, mirrored, label }: { stream: MediaStream; mirrored?: boolean; label: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.srcObject = stream;
    el.play().catch(() => undefined); // starts by itself once data comes
  }, [stream]);
  return <video ref={ref} className={mirrored ? "mirrored" : undefined} autoPlay playsInline muted aria-label={label} />;
}

function Sound({ stream }: { stream: MediaStream }) {
  const ref = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.srcObject = stream;
    el.play().catch(() => undefined);
  }, [stream]);
  return <audio ref={ref} autoPlay hidden />;
}

export function initials(name: string): string {
  const parts = name.replace(/\(.*?\)/g, "").trim().split(/\s+/).filter(Boolean);
  const first = parts[0]?.[0] ?? "?";
  const last = parts.length > 1 ? parts[parts.length - 1]![0]! : "";
  return (first + last).toUpperCase();
}

export function Stage({
  people,
  meId,
  local,
  localScreen,
  remote,
}: {
  people: Participant[];
  meId: string;
  local: MediaStream | null;
  localScreen: MediaStream | null;
  remote: Map<string, Subscription>;
}) {
  const { t } = useI18n();
  const screens = people.filter((p) => p.sharing && (p.id === meId ? localScreen : remote.get(`${p.id}:screen`)));
  return (
    <div className={`stage ${screens.length ? "with-screen" : ""}`}>
      {screens.map((p) => {
        const stream = p.id === meId ? localScreen! : remote.get(`${p.id}:screen`)!.stream;
        const label = p.id === meId ? t("meetings.tile.my_screen") : t("meetings.tile.screen_of", { name: p.display_name });
        return (
          <figure key={`${p.id}:screen`} className="tile screen" data-participant-id={p.id} data-kind="screen">
            <Video stream={stream} label={label} />
            <figcaption>
              <span>{label}</span>
            </figcaption>
          </figure>
        );
      })}
      <div className="tiles">
        {people.map((p) => {
          const mine = p.id === meId;
          const sub = remote.get(`${p.id}:camera`);
          const stream = mine ? local : sub?.stream ?? null;
          const showVideo = p.camera_on && stream !== null && stream.getVideoTracks().length > 0;
          const name = mine ? t("meetings.you_named", { name: p.display_name }) : p.display_name;
          return (
            <figure key={p.id} className={`tile ${p.hand_raised ? "hand" : ""}`} data-participant-id={p.id} data-kind="camera">
              {showVideo ? (
                <Video stream={stream} mirrored={mine} label={t("meetings.tile.video_of", { name: p.display_name })} />
              ) : (
                <div className="avatar" aria-hidden="true">
                  {initials(p.display_name)}
                </div>
              )}
              {!mine && sub && <Sound stream={sub.stream} />}
              <figcaption>
                <span className="tile-name">{name}</span>
                {p.hand_raised && <span className="tile-flag">✋ {t("meetings.hand.raised")}</span>}
                {p.muted && <span className="tile-flag">{t("meetings.state.muted")}</span>}
              </figcaption>
            </figure>
          );
        })}
      </div>
    </div>
  );
}
