// My meetings: those I organize, co-organize or am invited to (from yesterday on), with
// join, the link, the invitation (.ics), options and cancelling for organizers; schedule a
// new one; meet now.
import { useCallback, useEffect, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useWorkspace } from "../app/Shell";
import { ErrorNote } from "../app/ui";
import { useI18n } from "../i18n";
import { navigate } from "../lib/router";
import { OptionsEditor, ScheduleForm } from "./ScheduleForm";
import "./meetings.css";

type Meeting = Schemas["MeetingPublic"];

function span(m: Meeting, lang: string): string {
  const a = new Date(m.starts_at);
  const b = new Date(m.ends_at);
  const date = new Intl.DateTimeFormat(lang, { weekday: "short", day: "numeric", month: "short" }).format(a);
  const time = new Intl.DateTimeFormat(lang, { timeStyle: "short" });
  return `${date}, ${time.format(a)} – ${time.format(b)}`;
}

export function MeetingsHome() {
  const { t, lang } = useI18n();
  const { socket, me } = useWorkspace();
  const organizes = me.kind !== "guest"; // guests join meetings but organize none
  const [meetings, setMeetings] = useState<Meeting[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [scheduling, setScheduling] = useState(false);
  const [created, setCreated] = useState<Meeting | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);

  const load = useCallback(async () => {
    try {
      const since = new Date(Date.now() - 24 * 3600_000).toISOString();
      setMeetings(await api.get("/api/v1/meetings", { query: { start: since } }));
    } catch (e) {
      setError(e as ApiError);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);
  useEffect(
    () =>
      socket.on((e) => {
        if (e.type === "resync" || (e.type === "meeting.updated" && ["invited", "uninvited", "updated", "cancelled", "started", "ended"].includes(String(e.data.change))))
          void load();
      }),
    [socket, load],
  );

  const meetNow = async () => {
    setStarting(true);
    setError(null);
    try {
      const m = await api.post("/api/v1/meetings/now", { body: { subject: t("meetings.now.subject") } });
      navigate(`/m/${m.id}`);
    } catch (e) {
      setError(e as ApiError);
      setStarting(false);
    }
  };

  const copy = async (m: Meeting) => {
    try {
      await navigator.clipboard.writeText(m.invitation_url ?? m.join_url);
      setCopied(m.id);
    } catch {
      setCopied(null);
      prompt(t("meetings.list.copy_manually"), m.invitation_url ?? m.join_url);
    }
  };

  const cancel = async (m: Meeting) => {
    if (!confirm(t("meetings.list.cancel_confirm", { subject: m.subject }))) return;
    try {
      await api.post("/api/v1/meetings/{meeting_id}/cancel", { path: { meeting_id: m.id } });
      await load();
    } catch (e) {
      setError(e as ApiError);
    }
  };

  const live = (meetings ?? []).filter((m) => m.status === "scheduled");

  return (
    <section className="page meetings-home" aria-labelledby="meetings-title">
      <div className="row">
        <h1 id="meetings-title">{t("meetings.title")}</h1>
        <span className="spacer" />
        {organizes && (
          <>
            <button onClick={() => void meetNow()} disabled={starting}>
              {t("meetings.now.button")}
            </button>
            <button className="primary" onClick={() => setScheduling(true)} aria-expanded={scheduling}>
              {t("meetings.schedule.open")}
            </button>
          </>
        )}
      </div>
      <ErrorNote error={error} />
      {scheduling && (
        <ScheduleForm
          onCancel={() => setScheduling(false)}
          onDone={(m) => {
            setScheduling(false);
            setCreated(m);
            void load();
          }}
        />
      )}
      {created && (
        <div className="card done" role="status">
          <p>{t("meetings.schedule.done", { subject: created.subject })}</p>
          <p className="link-line">
            <span className="muted small">{t("meetings.list.link")}</span> <code>{created.join_url}</code>
          </p>
          <div className="row">
            <button onClick={() => void copy(created)}>{t("meetings.list.copy")}</button>
            <button className="link" onClick={() => setCreated(null)}>
              {t("action.close")}
            </button>
          </div>
        </div>
      )}
      <h2 className="list-title">{t("meetings.list.title")}</h2>
      {meetings === null ? (
        <p className="muted" aria-busy="true">
          {t("state.loading")}
        </p>
      ) : live.length === 0 ? (
        <p className="empty">{t(organizes ? "meetings.list.none" : "meetings.list.none_guest")}</p>
      ) : (
        <ul className="meeting-list">
          {live.map((m) => {
            const organizing = m.my_role === "organizer";
            return (
              <li key={m.id} className="meeting-item" data-meeting-id={m.id} data-join-url={m.join_url}>
                <div className="meeting-info">
                  <h3>{m.subject}</h3>
                  <p className="muted small">
                    <time dateTime={m.starts_at}>{span(m, lang)}</time>
                    {" · "}
                    {organizing ? t("meetings.list.you_organize") : t("meetings.list.organizer", { name: m.organizer.display_name })}
                  </p>
                  {m.started && <span className="badge badge-live">{t("meetings.list.live")}</span>}
                  {m.dial_in && (
                    <p className="muted small">{t("meetings.list.dial_in", { id: m.dial_in.conference_id, pin: m.dial_in.pin })}</p>
                  )}
                </div>
                <div className="row meeting-actions">
                  <button className="primary" onClick={() => navigate(`/m/${m.id}`)} aria-label={t("meetings.list.join_named", { subject: m.subject })}>
                    {t("meetings.list.join")}
                  </button>
                  <button onClick={() => void copy(m)} aria-label={t("meetings.list.copy_named", { subject: m.subject })}>
                    {copied === m.id ? t("meetings.list.copied") : t("meetings.list.copy")}
                  </button>
                  <a href={`/api/v1/meetings/${m.id}/invitation.ics`} download aria-label={t("meetings.list.ics_named", { subject: m.subject })}>
                    {t("meetings.list.ics")}
                  </a>
                  <a
                    href={`/recordings/${m.id}`}
                    onClick={(e) => {
                      e.preventDefault();
                      navigate(`/recordings/${m.id}`);
                    }}
                    aria-label={t("recordings.of", { subject: m.subject })}
                  >
                    {t("recordings.title")}
                  </a>
                  {(organizing || m.my_role === "coorganizer") && (
                    <button className="link" aria-expanded={editing === m.id} onClick={() => setEditing(editing === m.id ? null : m.id)}>
                      {t("meetings.options.edit")}
                    </button>
                  )}
                  {organizing && (
                    <button className="link danger" onClick={() => void cancel(m)} aria-label={t("meetings.list.cancel_named", { subject: m.subject })}>
                      {t("meetings.list.cancel")}
                    </button>
                  )}
                </div>
                {editing === m.id && (
                  <OptionsEditor
                    meeting={m}
                    onDone={(changed) => {
                      setEditing(null);
                      if (changed) setMeetings((all) => (all ?? []).map((x) => (x.id === changed.id ? changed : x)));
                    }}
                  />
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
