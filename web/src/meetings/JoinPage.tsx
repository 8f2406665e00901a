// Joining from a meeting's link (/join/<code>, /meet/<code>; ?invitation=<key> from the
// invitation): the pre-join screen, then the meeting. Members of the organisation continue
// in the workspace (/m/<id>, with their session); everyone else (anonymous people with a
// display name, people of other organisations) stays here with the participant credential
// the join returned, kept for this tab only so that a reload resumes instead of joining
// as someone new.
import { useEffect, useMemo, useState } from "react";
import { api, ApiError, setCsrfToken, type Schemas } from "../api/client";
import { LANGS, useI18n, type Lang } from "../i18n";
import { EventSocket } from "../lib/events";
import { navigate } from "../lib/router";
import { handOff, stopDevices, type Devices } from "./devices";
import { PreJoin, useDevices } from "./PreJoin";
import { Room, type Exit } from "./Room";
import { Farewell } from "./Farewell";
import "./meetings.css";

type Join = Pick<Schemas["JoinResult"], "meeting" | "me">;
type Stage =
  | { kind: "prejoin" }
  | { kind: "room"; meetingId: string; token: string; join: Join; devices: Devices }
  | { kind: "out"; why: Exit; subject: string };

const STORED = (code: string) => `overleg.meeting.${code}`;

function stored(code: string): { token: string; meetingId: string } | null {
  try {
    const v = JSON.parse(sessionStorage.getItem(STORED(code)) ?? "null") as { token?: unknown; meetingId?: unknown } | null;
    return v && typeof v.token === "string" && typeof v.meetingId === "string" ? { token: v.token, meetingId: v.meetingId } : null;
  } catch {
    return null;
  }
}

export function JoinPage({ code }: { code: string }) {
  const { t, lang, setLang } = useI18n();
  const [me, setMe] = useState<Schemas["Me"] | null | undefined>(undefined);
  const [stage, setStage] = useState<Stage>({ kind: "prejoin" });
  const invitation = useMemo(() => new URLSearchParams(location.search).get("invitation"), []);

  useEffect(() => {
    api.get("/api/v1/me").then(
      (m) => {
        const complete = m.session_state !== "mfa_pending" && m.session_state !== "mfa_enrol" && !m.must_change_password;
        if (complete) setCsrfToken(m.csrf_token ?? null);
        setMe(complete ? m : null);
      },
      () => setMe(null),
    );
  }, []);

  const exit = (why: Exit) => {
    if (stage.kind === "room") {
      stopDevices(stage.devices.stream);
      sessionStorage.removeItem(STORED(code));
      setStage({ kind: "out", why, subject: stage.join.meeting.subject });
    }
  };

  return (
    <main className={`join-page ${stage.kind === "room" ? "in-room" : ""}`} id="main">
      {stage.kind !== "room" && (
        <div className="brand-row join-brand">
          <span className="brand">Overleg</span>
          <label className="lang">
            <span className="sr-only">{t("lang.choose")}</span>
            <select value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
              {Object.entries(LANGS).map(([k, v]) => (
                <option key={k} value={k}>
                  {v}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      {stage.kind === "prejoin" ? (
        me === undefined ? (
          <p className="muted center" aria-busy="true">
            {t("state.loading")}
          </p>
        ) : (
          <JoinStep code={code} me={me} invitation={invitation} onRoom={(s) => setStage(s)} />
        )
      ) : stage.kind === "room" ? (
        <ParticipantRoom stage={stage} onExit={exit} />
      ) : (
        <Farewell why={stage.why} subject={stage.subject} onRejoin={() => setStage({ kind: "prejoin" })} />
      )}
    </main>
  );
}

function JoinStep({
  code,
  me,
  invitation,
  onRoom,
}: {
  code: string;
  me: Schemas["Me"] | null;
  invitation: string | null;
  onRoom: (s: Stage & { kind: "room" }) => void;
}) {
  const { t } = useI18n();
  const [devices, setDevices, keep] = useDevices();
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  // a reload in the meeting: resume with the credential, not as someone new
  const [resume, setResume] = useState<{ token: string; meetingId: string; join: Join } | null | undefined>(undefined);

  useEffect(() => {
    const kept = stored(code);
    if (!kept) return setResume(null);
    api
      .get("/api/v1/meetings/{meeting_id}/room", {
        path: { meeting_id: kept.meetingId },
        headers: { Authorization: `Bearer ${kept.token}` },
      })
      .then(
        (v) => setResume(v.me.state === "in" || v.me.state === "lobby" ? { ...kept, join: v } : null),
        () => setResume(null), // that participant is gone (left, removed, the meeting ended)
      );
  }, [code]);

  const join = async () => {
    if (!devices) return;
    setBusy(true);
    setError(null);
    try {
      if (resume) {
        keep();
        onRoom({ kind: "room", meetingId: resume.meetingId, token: resume.token, join: resume.join, devices });
        return;
      }
      sessionStorage.removeItem(STORED(code));
      const r = await api.post("/api/v1/meetings/join/{join_code}", {
        path: { join_code: code },
        body: { display_name: me ? null : name.trim(), invitation },
      });
      keep();
      if (r.token) {
        sessionStorage.setItem(STORED(code), JSON.stringify({ token: r.token, meetingId: r.meeting.id }));
        onRoom({ kind: "room", meetingId: r.meeting.id, token: r.token, join: r, devices });
      } else {
        handOff({ meetingId: r.meeting.id, join: r, devices });
        navigate(`/m/${r.meeting.id}`);
      }
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <PreJoin
      subject={resume?.join.meeting.subject ?? null}
      who={resume ? resume.join.me.display_name : me ? me.display_name : null}
      askName={!me && !resume}
      name={name}
      onName={setName}
      devices={devices}
      onDevices={setDevices}
      onJoin={() => void join()}
      busy={busy || devices === null || resume === undefined}
      error={error}
      extra={
        !me &&
        !resume && (
          <p className="muted small">
            {t("meetings.prejoin.have_account")}{" "}
            <a
              href="/"
              onClick={(e) => {
                e.preventDefault();
                navigate("/");
              }}
            >
              {t("meetings.prejoin.sign_in")}
            </a>
          </p>
        )
      }
    />
  );
}

function ParticipantRoom({ stage, onExit }: { stage: Stage & { kind: "room" }; onExit: (why: Exit) => void }) {
  const headers = useMemo(() => ({ Authorization: `Bearer ${stage.token}` }), [stage.token]);
  const socket = useMemo(() => new EventSocket(), []);
  useEffect(() => {
    // a participant's socket opens with a single-use ticket, a new one on every reconnect
    socket.start(async () => {
      const ticket = await api.post("/api/v1/events/ticket", { headers });
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      return `${scheme}://${location.host}/api/v1/events?ticket=${encodeURIComponent(ticket.ticket)}`;
    });
    return () => socket.stop();
  }, [socket, headers]);
  return <Room meetingId={stage.meetingId} headers={headers} socket={socket} join={stage.join} devices={stage.devices} onExit={onExit} />;
}
