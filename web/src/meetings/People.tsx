// The people panel: who waits in the lobby (for those who may admit: admit, admit all,
// deny) and who is in the meeting, with the actions the caller's role allows on each.
import { useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { ErrorNote } from "../app/ui";
import { useI18n, type Key } from "../i18n";
import type { Headers } from "./rtc";

type Participant = Schemas["ParticipantPublic"];

export const ROLE_KEYS: Record<Participant["role"], Key> = {
  organizer: "meetings.role.organizer",
  coorganizer: "meetings.role.coorganizer",
  presenter: "meetings.role.presenter",
  attendee: "meetings.role.attendee",
};

const TYPE_KEYS: Partial<Record<Participant["type"], Key>> = {
  guest: "meetings.type.guest",
  federated: "meetings.type.federated",
  external: "meetings.type.external",
  anonymous: "meetings.type.anonymous",
  dial_in: "meetings.type.dial_in",
};

export function LobbyList({
  meetingId,
  headers,
  lobby,
  onChanged,
}: {
  meetingId: string;
  headers: Headers;
  lobby: Participant[];
  onChanged: () => void;
}) {
  const { t } = useI18n();
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const act = async (run: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await run();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
      onChanged();
    }
  };
  const path = (pid: string) => ({ meeting_id: meetingId, participant_id: pid });
  return (
    <section className="lobby-list" aria-labelledby="lobby-heading" data-testid="lobby-panel">
      <div className="row">
        <h3 id="lobby-heading">{t("meetings.lobby.heading", { count: lobby.length })}</h3>
        <span className="spacer" />
        {lobby.length > 1 && (
          <button
            disabled={busy}
            onClick={() =>
              void act(() => api.post("/api/v1/meetings/{meeting_id}/lobby/admit-all", { path: { meeting_id: meetingId }, headers }))
            }
          >
            {t("meetings.lobby.admit_all")}
          </button>
        )}
      </div>
      <ErrorNote error={error} />
      <ul className="people">
        {lobby.map((p) => (
          <li key={p.id} data-participant-id={p.id}>
            <span className="person">
              <span className="person-name">{p.display_name}</span>
              <span className="muted small">{describe(t, p)}</span>
            </span>
            <span className="row">
              <button
                className="primary"
                disabled={busy}
                aria-label={t("meetings.lobby.admit_named", { name: p.display_name })}
                onClick={() => void act(() => api.post("/api/v1/meetings/{meeting_id}/lobby/{participant_id}/admit", { path: path(p.id), headers }))}
              >
                {t("meetings.lobby.admit")}
              </button>
              <button
                disabled={busy}
                aria-label={t("meetings.lobby.deny_named", { name: p.display_name })}
                onClick={() => void act(() => api.post("/api/v1/meetings/{meeting_id}/lobby/{participant_id}/deny", { path: path(p.id), headers }))}
              >
                {t("meetings.lobby.deny")}
              </button>
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function describe(t: (k: Key, v?: Record<string, string | number>) => string, p: Participant): string {
  const kind = TYPE_KEYS[p.type];
  const bits = [t(ROLE_KEYS[p.role])];
  if (kind) bits.push(t(kind));
  if (p.phone) bits.push(p.phone);
  return bits.join(" · ");
}

export function PeopleList({
  meetingId,
  headers,
  people,
  me,
  capabilities,
  onChanged,
}: {
  meetingId: string;
  headers: Headers;
  people: Participant[];
  me: Participant;
  capabilities: string[];
  onChanged: () => void;
}) {
  const { t } = useI18n();
  const [error, setError] = useState<ApiError | null>(null);
  const can = (c: string) => capabilities.includes(c);
  const act = async (run: () => Promise<unknown>, ask?: string) => {
    if (ask && !confirm(ask)) return;
    setError(null);
    try {
      await run();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      onChanged();
    }
  };
  const path = (pid: string) => ({ meeting_id: meetingId, participant_id: pid });
  return (
    <section aria-labelledby="in-heading">
      <h3 id="in-heading">{t("meetings.people.in", { count: people.length })}</h3>
      <ErrorNote error={error} />
      <ul className="people">
        {people.map((p) => {
          const mine = p.id === me.id;
          const leads = p.role === "organizer" || p.role === "coorganizer";
          const actions: { label: string; run: () => Promise<unknown>; ask?: string; danger?: boolean }[] = [];
          if (!mine) {
            if (can("mute_others") && !p.muted)
              actions.push({ label: t("meetings.people.mute"), run: () => api.post("/api/v1/meetings/{meeting_id}/participants/{participant_id}/mute", { path: path(p.id), headers }) });
            if (can("lower_hands") && p.hand_raised)
              actions.push({ label: t("meetings.people.lower_hand"), run: () => api.post("/api/v1/meetings/{meeting_id}/participants/{participant_id}/lower-hand", { path: path(p.id), headers }) });
            if (can("change_roles") && !leads) {
              const role = p.role === "attendee" ? "presenter" : "attendee";
              actions.push({
                label: t(role === "presenter" ? "meetings.people.make_presenter" : "meetings.people.make_attendee"),
                run: () => api.put("/api/v1/meetings/{meeting_id}/participants/{participant_id}/role", { path: path(p.id), headers, body: { role } }),
              });
            }
            if (can("manage_attendee_media") && p.role === "attendee") {
              actions.push({
                label: t(p.mic_disabled ? "meetings.people.allow_mic" : "meetings.people.disable_mic"),
                run: () => api.put("/api/v1/meetings/{meeting_id}/participants/{participant_id}/media-permissions", { path: path(p.id), headers, body: { mic: p.mic_disabled } }),
              });
              actions.push({
                label: t(p.camera_disabled ? "meetings.people.allow_camera" : "meetings.people.disable_camera"),
                run: () => api.put("/api/v1/meetings/{meeting_id}/participants/{participant_id}/media-permissions", { path: path(p.id), headers, body: { camera: p.camera_disabled } }),
              });
            }
            if (can("remove") && p.role !== "organizer")
              actions.push({
                label: t("meetings.people.remove"),
                ask: t("meetings.people.remove_confirm", { name: p.display_name }),
                danger: true,
                run: () => api.del("/api/v1/meetings/{meeting_id}/participants/{participant_id}", { path: path(p.id), headers }),
              });
          }
          return (
            <li key={p.id} data-participant-id={p.id}>
              <span className="person">
                <span className="person-name">
                  {mine ? t("meetings.you_named", { name: p.display_name }) : p.display_name}
                </span>
                <span className="muted small">{describe(t, p)}</span>
                <span className="flags small">
                  {p.hand_raised && <span>✋ {t("meetings.hand.raised")}</span>}
                  <span>{p.muted ? t("meetings.state.muted") : t("meetings.state.unmuted")}</span>
                  {p.camera_on && <span>{t("meetings.state.camera_on")}</span>}
                  {p.sharing && <span>{t("meetings.state.sharing")}</span>}
                  {p.mic_disabled && <span>{t("meetings.state.mic_disabled")}</span>}
                  {p.camera_disabled && <span>{t("meetings.state.camera_disabled")}</span>}
                  {p.consent === "declined" && <span>{t("meetings.state.declined")}</span>}
                </span>
              </span>
              {actions.length > 0 && (
                <details className="person-menu">
                  <summary aria-label={t("meetings.people.actions_for", { name: p.display_name })}>⋯</summary>
                  <div className="menu">
                    {actions.map((a) => (
                      <button key={a.label} className={a.danger ? "link danger" : "link"} onClick={(e) => {
                        (e.currentTarget.closest("details") as HTMLDetailsElement | null)?.removeAttribute("open");
                        void act(a.run, a.ask);
                      }}>
                        {a.label}
                      </button>
                    ))}
                  </div>
                </details>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
