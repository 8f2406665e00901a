// A meeting for someone signed in to the organisation (/m/<id>): the pre-join screen (or
// straight in when the join page already joined), the meeting, and what comes after.
import { useEffect, useRef, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useWorkspace } from "../app/Shell";
import { ErrorNote } from "../app/ui";
import { useI18n } from "../i18n";
import { navigate } from "../lib/router";
import { clearHandoff, peekHandoff, stopDevices, type Devices } from "./devices";
import { Farewell } from "./Farewell";
import { PreJoin, useDevices } from "./PreJoin";
import { Room, type Exit } from "./Room";
import "./meetings.css";

type Join = Pick<Schemas["JoinResult"], "meeting" | "me">;
type Stage = { kind: "prejoin" } | { kind: "room"; join: Join; devices: Devices } | { kind: "out"; why: Exit; subject: string };

/** The code of a join link (its last path segment). */
export function joinCode(url: string): string {
  return new URL(url, location.origin).pathname.split("/").filter(Boolean).pop() ?? "";
}

export function MeetingView({ meetingId }: { meetingId: string }) {
  const { socket } = useWorkspace();
  const [stage, setStage] = useState<Stage>(() => {
    const h = peekHandoff(meetingId);
    return h ? { kind: "room", join: h.join, devices: h.devices } : { kind: "prejoin" };
  });
  const [meeting, setMeeting] = useState<Schemas["MeetingPublic"] | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const devices = useRef<MediaStream | null>(null);
  devices.current = stage.kind === "room" ? stage.devices.stream : null;

  useEffect(() => {
    api.get("/api/v1/meetings/{meeting_id}", { path: { meeting_id: meetingId } }).then(setMeeting, (e: ApiError) => setLoadError(e));
  }, [meetingId]);

  useEffect(() => {
    clearHandoff();
    return () => stopDevices(devices.current); // leaving the view ends one's media
  }, []);

  const exit = (why: Exit) => {
    if (stage.kind !== "room") return;
    stopDevices(stage.devices.stream);
    setStage({ kind: "out", why, subject: stage.join.meeting.subject });
  };

  if (stage.kind === "room")
    return (
      <Room
        meetingId={meetingId}
        headers={undefined}
        socket={socket}
        join={stage.join}
        devices={stage.devices}
        joinUrl={meeting?.join_url}
        onExit={exit}
      />
    );
  if (stage.kind === "out")
    return (
      <Farewell
        why={stage.why}
        subject={stage.subject}
        onRejoin={() => setStage({ kind: "prejoin" })}
        onBack={() => navigate("/meetings")}
      />
    );
  return (
    <MemberPreJoin meeting={meeting} loadError={loadError} onRoom={(join, d) => setStage({ kind: "room", join, devices: d })} />
  );
}

function MemberPreJoin({
  meeting,
  loadError,
  onRoom,
}: {
  meeting: Schemas["MeetingPublic"] | null;
  loadError: ApiError | null;
  onRoom: (join: Join, d: Devices) => void;
}) {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const [devices, setDevices, keep] = useDevices();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const join = async () => {
    if (!meeting || !devices) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api.post("/api/v1/meetings/join/{join_code}", { path: { join_code: joinCode(meeting.join_url) }, body: {} });
      keep();
      onRoom(r, devices);
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };

  if (loadError)
    return (
      <section className="page">
        <h1>{t("meetings.title")}</h1>
        <ErrorNote error={loadError} />
        <button onClick={() => navigate("/meetings")}>{t("meetings.out.back")}</button>
      </section>
    );
  return (
    <div className="page prejoin-page">
      <PreJoin
        subject={meeting?.subject ?? null}
        who={me.display_name}
        askName={false}
        name=""
        onName={() => undefined}
        devices={devices}
        onDevices={setDevices}
        onJoin={() => void join()}
        busy={busy || !meeting || devices === null}
        error={error}
      />
    </div>
  );
}
