// A meeting one has joined: the lobby's waiting screen, or the room itself (tiles,
// controls, people and lobby, chat), with the recording notice and the consent question.
// Everything follows the event socket (meeting.* events); on any doubt the room view is
// reloaded (GET .../room holds all of the state).
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { ErrorNote } from "../app/ui";
import { useI18n } from "../i18n";
import type { EventSocket, SocketState } from "../lib/events";
import { track, type Devices } from "./devices";
import { Chat } from "./Chat";
import { LobbyList, PeopleList } from "./People";
import type { FeedKind, Headers, Kind } from "./rtc";
import { MediaSession } from "./session";
import { Stage, Video } from "./Stage";
import "./meetings.css";

type View = Schemas["RoomView"];
type Participant = Schemas["ParticipantPublic"];
type Summary = Schemas["MeetingSummary"];
type Options = Schemas["MeetingOptions"];
type Message = Schemas["MeetingMessagePublic"];
export type Exit = "left" | "denied" | "removed" | "ended" | "cancelled" | "gone";

/** What the person may send on their camera feed now (the server's rule, for the UI). */
export function allowedKinds(meeting: Summary, me: Participant, options: Options | null): Set<Kind> {
  if (meeting.consent_required && !me.recording_excluded && me.consent !== "agreed") return new Set();
  if (me.role !== "attendee") return new Set<Kind>(["audio", "video"]);
  const out = new Set<Kind>();
  if ((options?.allow_mic_for_attendees ?? true) && !me.mic_disabled) out.add("audio");
  if ((options?.allow_camera_for_attendees ?? true) && !me.camera_disabled) out.add("video");
  return out;
}

/** Leaves that wait for the end of the current task (see the media effect below). */
const leaving = new Map<string, number>();

export interface RoomProps {
  meetingId: string;
  /** a participant credential's header; none: the session cookie */
  headers: Headers;
  socket: EventSocket;
  join: { meeting: Summary; me: Participant };
  devices: Devices;
  /** the meeting's link, to pass on (for those who see the meeting itself) */
  joinUrl?: string;
  onExit: (why: Exit) => void;
}

export function Room({ meetingId, headers, socket, join, devices, joinUrl, onExit }: RoomProps) {
  const { t } = useI18n();
  const [view, setView] = useState<View>({ meeting: join.meeting, me: join.me, participants: [], lobby: null, capabilities: [] });
  const [options, setOptions] = useState<Options | null>(null);
  const [optionsTried, setOptionsTried] = useState(false);
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [panel, setPanel] = useState<"people" | "chat" | null>(null);
  const [unread, setUnread] = useState(0);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState("");
  const [conn, setConn] = useState<SocketState>(socket.state);
  const [media, setMedia] = useState<MediaSession | null>(null);
  const [, mediaChanged] = useReducer((n: number) => n + 1, 0);
  const exited = useRef(false);
  const panelRef = useRef(panel);
  panelRef.current = panel;
  const mediaRef = useRef(media);
  mediaRef.current = media;

  const me = view.me;
  const meeting = view.meeting;
  const inside = me.state === "in";
  const can = (c: string) => view.capabilities.includes(c);
  const path = { meeting_id: meetingId };

  const onExitRef = useRef(onExit);
  onExitRef.current = onExit;
  const exit = useCallback((why: Exit) => {
    if (exited.current) return;
    exited.current = true;
    mediaRef.current?.close();
    onExitRef.current(why);
  }, []);

  useEffect(() => {
    window.clearTimeout(leaving.get(meetingId));
    leaving.delete(meetingId);
    const m = new MediaSession(meetingId, headers, devices.stream, join.me.id, mediaChanged);
    setMedia(m);
    return () => {
      m.close();
      if (exited.current) return;
      // closing the meeting's view leaves the meeting, so that nobody is listed as present
      // who is not; deferred, because the same view mounting again (React's development
      // checks) must not leave
      const timer = window.setTimeout(() => {
        leaving.delete(meetingId);
        void api.post("/api/v1/meetings/{meeting_id}/leave", { path: { meeting_id: meetingId }, headers }).catch(() => undefined);
      }, 0);
      leaving.set(meetingId, timer);
    };
  }, [meetingId, headers, devices.stream, join.me.id]);

  useEffect(() => socket.onState(setConn), [socket]);

  // one reload at a time; events that arrive meanwhile ask for one more
  const loading = useRef(false);
  const again = useRef(false);
  const reload = useCallback(async () => {
    if (loading.current) {
      again.current = true;
      return;
    }
    loading.current = true;
    try {
      do {
        again.current = false;
        try {
          const v = await api.get("/api/v1/meetings/{meeting_id}/room", { path: { meeting_id: meetingId }, headers });
          setView(v);
          if (v.meeting.status !== "scheduled") exit(v.meeting.status === "cancelled" ? "cancelled" : "ended");
          else if (v.me.state === "denied" || v.me.state === "removed") exit(v.me.state);
          else if (v.me.state === "left") exit("left");
        } catch (e) {
          if (e instanceof ApiError && e.status === 409) exit("ended");
          else if (e instanceof ApiError && (e.status === 401 || e.status === 404)) exit("gone");
          else setError(e as ApiError);
        }
      } while (again.current);
    } finally {
      loading.current = false;
    }
  }, [meetingId, headers, exit]);

  const loadOptions = useCallback(async () => {
    try {
      setOptions(await api.get("/api/v1/meetings/{meeting_id}/options", { path: { meeting_id: meetingId }, headers }));
    } catch {
      // keep what was known; the server decides anyway
    } finally {
      setOptionsTried(true);
    }
  }, [meetingId, headers]);

  const loadMessages = useCallback(async () => {
    try {
      setMessages(await api.get("/api/v1/meetings/{meeting_id}/messages", { path: { meeting_id: meetingId }, headers }));
    } catch {
      setMessages((m) => m ?? []);
    }
  }, [meetingId, headers]);

  useEffect(() => {
    void reload();
  }, [reload]);

  // the meeting's events
  useEffect(
    () =>
      socket.on((e) => {
        const m = mediaRef.current;
        if (e.type === "resync") {
          void reload();
          void loadMessages();
          if (m && !exited.current) void m.loadFeeds().catch(() => undefined);
          return;
        }
        if (!e.type.startsWith("meeting.") || e.data.meeting_id !== meetingId) return;
        const d = e.data;
        switch (e.type) {
          case "meeting.you":
            if (d.state === "denied" || d.state === "removed") return exit(d.state);
            if (d.state === "admitted") setNotice(t("meetings.notice.admitted"));
            if (d.state === "muted") setNotice(t("meetings.notice.muted"));
            if (d.state === "role") setNotice(t(d.role === "attendee" ? "meetings.notice.now_attendee" : "meetings.notice.now_presenter"));
            break;
          case "meeting.updated":
            if (d.change === "ended" || d.change === "cancelled") return exit(d.change);
            if (d.change === "options") void loadOptions();
            break;
          case "meeting.recording":
            setView((v) => ({
              ...v,
              meeting: {
                ...v.meeting,
                recording: d.recording === true,
                consent_required: d.consent_required === true,
                privacy_statement_url: typeof d.privacy_statement_url === "string" ? d.privacy_statement_url : null,
              },
            }));
            setNotice(t(d.recording === true ? "meetings.recording.started" : "meetings.recording.stopped"));
            break;
          case "meeting.message":
            void loadMessages();
            if (panelRef.current !== "chat") setUnread((n) => n + 1);
            return;
          case "meeting.media":
            if (d.change === "published") void m?.receive(String(d.participant_id), d.kind as FeedKind);
            else if (d.change === "unpublished") m?.drop(`${String(d.participant_id)}:${String(d.kind)}`);
            else if (d.change === "reset") {
              m?.reset();
              setNotice(t("meetings.media.back"));
              void m?.republish();
              void m?.loadFeeds().catch(() => undefined);
            } else if (d.change === "unavailable") setNotice(t("meetings.media.lost"));
            break;
          case "meeting.participant":
            if (d.change === "left" || d.change === "removed") m?.dropParticipant(String(d.participant_id));
            break;
          case "meeting.lobby":
            if (d.change === "entered") setNotice(t("meetings.notice.waiting"));
            break;
        }
        void reload();
      }),
    [socket, meetingId, reload, loadMessages, loadOptions, exit, t],
  );

  // entering: options and chat (the feeds come once one's own camera is set up)
  useEffect(() => {
    if (!inside || !media) return;
    void loadOptions();
    void loadMessages();
  }, [inside, media, loadOptions, loadMessages]);

  // publish what may be sent (again, when more became allowed); then the pre-join choices
  const allowed = allowedKinds(meeting, me, options);
  const allowedKey = [...allowed].sort().join(",");
  const applied = useRef(false);
  useEffect(() => {
    if (!inside || !media || !meeting.media_available || !optionsTried) return;
    // one's own feed first: publishing gives one's seat in the media server's room, which
    // receiving needs
    void media.ensureCamera(allowed).then(async () => {
      void media.loadFeeds().catch(() => undefined);
      if (applied.current || !media.camera) return;
      applied.current = true;
      const body = {
        muted: !(devices.mic && media.camera.kinds.has("audio")),
        camera_on: devices.camera && media.camera.kinds.has("video"),
      };
      try {
        const p = await api.patch("/api/v1/meetings/{meeting_id}/me/media", { path, headers, body });
        setView((v) => ({ ...v, me: p }));
      } catch (e) {
        setError(e as ApiError);
      }
    });
  }, [inside, media, meeting.media_available, optionsTried, allowedKey]); // eslint-disable-line react-hooks/exhaustive-deps

  // the tracks follow the state: muted or camera off by anyone, a recording's hold, ...
  useEffect(() => {
    const audio = track(devices.stream, "audio");
    const video = track(devices.stream, "video");
    if (audio) audio.enabled = inside ? !me.muted : devices.mic;
    if (video) video.enabled = inside ? me.camera_on : devices.camera;
  }, [devices, inside, me.muted, me.camera_on]);

  // people who are gone, and shares that stopped: their feeds go too
  useEffect(() => {
    if (!media || !inside) return;
    const present = new Map(view.participants.map((p) => [p.id, p]));
    for (const sub of [...media.remote.values()]) {
      const p = present.get(sub.participantId);
      if (!p) media.dropParticipant(sub.participantId);
      else if (sub.kind === "screen" && !p.sharing) media.drop(sub.key);
    }
  }, [media, view.participants, inside]);

  // no screen capture goes on where sharing is not allowed (made attendee, a recording
  // that waits for consent): the browser stops capturing too
  const mayShare = view.capabilities.includes("share_content") && allowed.size > 0;
  useEffect(() => {
    if (media?.screen && !mayShare) void media.stopScreen();
  }, [media, media?.screen, mayShare]);

  const call = async (run: () => Promise<Participant | undefined | unknown>) => {
    setError(null);
    try {
      const result = await run();
      if (result && typeof result === "object" && "id" in result && (result as Participant).id === me.id) setView((v) => ({ ...v, me: result as Participant }));
    } catch (e) {
      if (e instanceof DOMException && e.name === "NotAllowedError") return; // the person chose not to share
      setError(e instanceof ApiError ? e : new ApiError(0, String(e), String(e)));
    }
  };

  const leave = async () => {
    try {
      await api.post("/api/v1/meetings/{meeting_id}/leave", { path, headers });
    } catch {
      /* out already (ended, removed): leaving is done either way */
    }
    exit("left");
  };

  const endForAll = async () => {
    if (!confirm(t("meetings.end.confirm"))) return;
    try {
      await api.post("/api/v1/meetings/{meeting_id}/end", { path, headers });
      exit("ended");
    } catch (e) {
      setError(e as ApiError);
    }
  };

  // --- the lobby -----------------------------------------------------------------------
  if (!inside) {
    return (
      <div className="meeting-wait">
        <div className="card wait-card">
          <h1>{meeting.subject}</h1>
          <RecordingBanner meeting={meeting} me={me} />
          {devices.stream && devices.camera && track(devices.stream, "video") ? (
            <div className="preview small">
              <Video stream={devices.stream} mirrored label={t("meetings.prejoin.preview")} />
            </div>
          ) : null}
          <p className="wait-text" role="status">
            {me.admit_on_start ? t("meetings.wait.until_start") : t("meetings.wait.text")}
          </p>
          <p className="muted small">{t("meetings.wait.hint")}</p>
          <ErrorNote error={error} />
          <button onClick={() => void leave()}>{t("meetings.wait.leave")}</button>
        </div>
      </div>
    );
  }

  // --- the room ------------------------------------------------------------------------
  const audio = track(devices.stream, "audio");
  const video = track(devices.stream, "video");
  const declined = meeting.consent_required && me.consent === "declined" && !me.recording_excluded;
  const asked = meeting.consent_required && me.consent == null && !me.recording_excluded;
  const micBlocked = !audio || !allowed.has("audio");
  const cameraBlocked = !video || !allowed.has("video");
  const lobby = view.lobby ?? [];
  const shareable = can("share_content") && meeting.media_available && !!navigator.mediaDevices?.getDisplayMedia && !declined && !asked;

  return (
    <section className="meeting" aria-labelledby="meeting-title">
      <header className="meeting-head">
        <h1 id="meeting-title">{meeting.subject}</h1>
        <span className="muted small">{t("meetings.people.count", { count: view.participants.length })}</span>
        <span className="spacer" />
        {meeting.locked && <span className="badge">{t("meetings.locked")}</span>}
        {headers && (
          // a participant's own socket (signed-in people see the workspace's status)
          <span className="conn-note small" role="status">
            {conn === "open" ? "" : t(conn === "connecting" ? "conn.connecting" : "conn.offline")}
          </span>
        )}
      </header>
      <RecordingBanner meeting={meeting} me={me} />
      {asked && <ConsentPrompt meetingId={meetingId} headers={headers} meeting={meeting} onDone={(p) => setView((v) => ({ ...v, me: p }))} />}
      {!meeting.media_available && <p className="note">{t("meetings.media.unavailable")}</p>}
      {media?.failure != null && <ErrorNote error={media.failure instanceof ApiError ? media.failure : new ApiError(0, "", t("meetings.media.failed"))} />}
      {lobby.length > 0 && panel !== "people" && (
        <div className="lobby-notice" role="status">
          <span>{t("meetings.lobby.notice", { count: lobby.length, name: lobby[0]!.display_name })}</span>
          <button onClick={() => setPanel("people")}>{t("meetings.lobby.view")}</button>
        </div>
      )}
      <p className="sr-only" role="status" aria-live="polite">
        {notice}
      </p>
      <ErrorNote error={error} />
      <div className={`meeting-body ${panel ? "with-panel" : ""}`}>
        <Stage
          people={view.participants}
          meId={me.id}
          local={devices.stream}
          localScreen={media?.screen?.stream ?? null}
          remote={media?.remote ?? new Map()}
        />
        {panel && (
          <aside className="meeting-panel" aria-label={t(panel === "people" ? "meetings.people.title" : "meetings.chat.title")}>
            <div className="row panel-head">
              <span className="spacer" />
              <button className="link" onClick={() => setPanel(null)}>
                {t("action.close")}
              </button>
            </div>
            {panel === "people" ? (
              <>
                <h2>{t("meetings.people.title")}</h2>
                {joinUrl && <ShareLink url={joinUrl} />}
                {can("change_options") && options && (
                  <label className="check">
                    <input
                      type="checkbox"
                      checked={options.lock}
                      onChange={(e) =>
                        void call(async () => {
                          setOptions(await api.patch("/api/v1/meetings/{meeting_id}/options", { path, headers, body: { lock: e.target.checked } }));
                        })
                      }
                    />
                    {t("meetings.options.lock")}
                  </label>
                )}
                {view.lobby !== null && lobby.length > 0 && (
                  <LobbyList meetingId={meetingId} headers={headers} lobby={lobby} onChanged={() => void reload()} />
                )}
                <PeopleList
                  meetingId={meetingId}
                  headers={headers}
                  people={view.participants}
                  me={me}
                  capabilities={view.capabilities}
                  onChanged={() => void reload()}
                />
              </>
            ) : (
              <Chat meetingId={meetingId} headers={headers} messages={messages} enabled={meeting.allow_chat} onSent={() => void loadMessages()} />
            )}
          </aside>
        )}
      </div>
      {declined && <p className="note">{t("meetings.recording.declined")}</p>}
      <div className="meeting-controls" role="group" aria-label={t("meetings.controls")}>
        <button
          className={me.muted ? "" : "on"}
          disabled={micBlocked}
          onClick={() => void call(() => api.patch("/api/v1/meetings/{meeting_id}/me/media", { path, headers, body: { muted: !me.muted } }))}
        >
          {me.muted ? t("meetings.controls.unmute") : t("meetings.controls.mute")}
        </button>
        <button
          className={me.camera_on ? "on" : ""}
          disabled={cameraBlocked}
          onClick={() => void call(() => api.patch("/api/v1/meetings/{meeting_id}/me/media", { path, headers, body: { camera_on: !me.camera_on } }))}
        >
          {me.camera_on ? t("meetings.controls.camera_off") : t("meetings.controls.camera_on")}
        </button>
        {shareable && (
          <button
            className={media?.screen ? "on" : ""}
            onClick={() => void call(() => (media?.screen ? media.stopScreen() : media!.shareScreen()))}
          >
            {media?.screen ? t("meetings.controls.stop_share") : t("meetings.controls.share")}
          </button>
        )}
        <button
          className={me.hand_raised ? "on" : ""}
          onClick={() =>
            void call(() =>
              me.hand_raised
                ? api.del("/api/v1/meetings/{meeting_id}/me/hand", { path, headers })
                : api.post("/api/v1/meetings/{meeting_id}/me/hand", { path, headers }),
            )
          }
        >
          {me.hand_raised ? t("meetings.controls.lower_hand") : t("meetings.controls.raise_hand")}
        </button>
        <button aria-expanded={panel === "people"} onClick={() => setPanel(panel === "people" ? null : "people")}>
          {t("meetings.controls.people", { count: view.participants.length })}
          {lobby.length > 0 && <span className="count">{lobby.length}</span>}
        </button>
        <button
          aria-expanded={panel === "chat"}
          onClick={() => {
            setUnread(0);
            setPanel(panel === "chat" ? null : "chat");
          }}
        >
          {t("meetings.controls.chat")}
          {unread > 0 && panel !== "chat" && (
            <span className="count" aria-label={t("meetings.chat.unread", { count: unread })}>
              {unread}
            </span>
          )}
        </button>
        {can("record") && (
          <button
            className={meeting.recording ? "on danger" : ""}
            onClick={() =>
              void call(() => api.post(meeting.recording ? "/api/v1/meetings/{meeting_id}/recording/stop" : "/api/v1/meetings/{meeting_id}/recording/start", { path, headers }))
            }
          >
            {meeting.recording ? t("meetings.controls.stop_recording") : t("meetings.controls.record")}
          </button>
        )}
        <span className="spacer" />
        <button className="leave" onClick={() => void leave()}>
          {t("meetings.controls.leave")}
        </button>
        {can("end_meeting") && (
          <button className="leave" onClick={() => void endForAll()}>
            {t("meetings.controls.end")}
          </button>
        )}
      </div>
      {(micBlocked || cameraBlocked) && !declined && (
        <p className="muted small controls-hint">
          {asked
            ? t("meetings.recording.agree_first")
            : !audio && !video
              ? t("meetings.devices.none_in_meeting")
              : me.role === "attendee"
                ? t("meetings.controls.attendee_limits")
                : ""}
        </p>
      )}
    </section>
  );
}

function RecordingBanner({ meeting, me }: { meeting: Summary; me: Participant }) {
  const { t } = useI18n();
  if (!meeting.recording) return null;
  return (
    <div className="rec-banner" role="status" data-testid="recording-banner">
      <span className="rec-dot" aria-hidden="true" />
      <span>
        <strong>{t("meetings.recording.banner")}</strong>{" "}
        {meeting.consent_required && !me.recording_excluded ? t("meetings.recording.consent_note") : t("meetings.recording.note")}
      </span>
      {meeting.privacy_statement_url && (
        <a href={meeting.privacy_statement_url} target="_blank" rel="noopener noreferrer">
          {t("meetings.recording.privacy")}
        </a>
      )}
    </div>
  );
}

function ConsentPrompt({
  meetingId,
  headers,
  meeting,
  onDone,
}: {
  meetingId: string;
  headers: Headers;
  meeting: Summary;
  onDone: (p: Participant) => void;
}) {
  const { t } = useI18n();
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    first.current?.focus();
  }, []);
  const decide = async (agree: boolean) => {
    setBusy(true);
    setError(null);
    try {
      onDone(await api.post("/api/v1/meetings/{meeting_id}/recording/consent", { path: { meeting_id: meetingId }, headers, body: { agree } }));
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="consent" role="alertdialog" aria-labelledby="consent-title" aria-describedby="consent-text">
      <h2 id="consent-title">{t("meetings.consent.title")}</h2>
      <p id="consent-text">{t("meetings.consent.text")}</p>
      {meeting.privacy_statement_url && (
        <p>
          <a href={meeting.privacy_statement_url} target="_blank" rel="noopener noreferrer">
            {t("meetings.recording.privacy")}
          </a>
        </p>
      )}
      <ErrorNote error={error} />
      <div className="row">
        <button ref={first} className="primary" disabled={busy} onClick={() => void decide(true)}>
          {t("meetings.consent.agree")}
        </button>
        <button disabled={busy} onClick={() => void decide(false)}>
          {t("meetings.consent.decline")}
        </button>
      </div>
    </section>
  );
}

function ShareLink({ url }: { url: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <div className="share-link">
      <label>
        {t("meetings.share.label")}
        <input readOnly value={url} onFocus={(e) => e.target.select()} />
      </label>
      <button
        onClick={() =>
          void navigator.clipboard.writeText(url).then(
            () => setCopied(true),
            () => setCopied(false),
          )
        }
      >
        {copied ? t("meetings.list.copied") : t("meetings.list.copy")}
      </button>
    </div>
  );
}
