// Scheduling a meeting (subject, time, invitees by account or e-mail address, meeting
// options) and changing the options of one already scheduled. Options left at "as the
// organisation set it" are not sent, so the organizer's meeting policy gives them.
import { useMemo, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useWorkspace } from "../app/Shell";
import { ErrorNote } from "../app/ui";
import { useI18n, type Key } from "../i18n";

type Options = Schemas["MeetingOptionsUpdate"];
type Meeting = Schemas["MeetingPublic"];
type Person = Schemas["DirectoryUser"];

export const BYPASS: [Schemas["LobbyBypass"], Key][] = [
  ["everyone", "meetings.bypass.everyone"],
  ["organizationAndFederated", "meetings.bypass.organizationAndFederated"],
  ["organization", "meetings.bypass.organization"],
  ["organizationExcludingGuests", "meetings.bypass.organizationExcludingGuests"],
  ["invited", "meetings.bypass.invited"],
  ["organizer", "meetings.bypass.organizer"],
];

export const PRESENT: [Schemas["WhoCanPresent"], Key][] = [
  ["everyone", "meetings.present.everyone"],
  ["organization", "meetings.present.organization"],
  ["organizationAndFederated", "meetings.present.organizationAndFederated"],
  ["organizer", "meetings.present.organizer"],
  ["specific_people", "meetings.present.specific_people"],
];

const pad = (n: number) => String(n).padStart(2, "0");
const day = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const clock = (d: Date) => `${pad(d.getHours())}:${pad(d.getMinutes())}`;

function nextHalfHour(): Date {
  const d = new Date();
  d.setSeconds(0, 0);
  d.setMinutes(d.getMinutes() < 30 ? 30 : 60);
  return d;
}

/** The meeting options as fields. ``withDefaults``: a first choice "as the organisation
 * set it" (scheduling); otherwise the meeting's values are shown (changing them). */
export function OptionsFields({
  value,
  onChange,
  withDefaults,
  candidates,
  idPrefix,
}: {
  value: Options;
  onChange: (v: Options) => void;
  withDefaults: boolean;
  /** the invitees with an account here: co-organizers and specific presenters come from them */
  candidates: { id: string; name: string; guest: boolean }[];
  idPrefix: string;
}) {
  const { t } = useI18n();
  const set = (patch: Options) => onChange({ ...value, ...patch });
  const check = (key: "allow_mic_for_attendees" | "allow_camera_for_attendees" | "allow_chat" | "dial_in_bypass", label: Key, fallback: boolean) => (
    <label className="check">
      <input type="checkbox" checked={value[key] ?? fallback} onChange={(e) => set({ [key]: e.target.checked })} />
      {t(label)}
    </label>
  );
  const pick = (key: "coorganizers" | "presenters", id: string, on: boolean) => {
    const now = new Set(value[key] ?? []);
    if (on) now.add(id);
    else now.delete(id);
    set({ [key]: [...now] });
  };
  return (
    <fieldset className="options">
      <legend>{t("meetings.options.title")}</legend>
      <label>
        {t("meetings.options.bypass")}
        <select
          value={value.lobby_bypass ?? ""}
          onChange={(e) => set({ lobby_bypass: (e.target.value || null) as Options["lobby_bypass"] })}
        >
          {withDefaults && <option value="">{t("meetings.options.default")}</option>}
          {BYPASS.map(([v, k]) => (
            <option key={v} value={v}>
              {t(k)}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t("meetings.options.present")}
        <select
          value={value.who_can_present ?? ""}
          onChange={(e) => set({ who_can_present: (e.target.value || null) as Options["who_can_present"] })}
        >
          {withDefaults && <option value="">{t("meetings.options.default")}</option>}
          {PRESENT.map(([v, k]) => (
            <option key={v} value={v}>
              {t(k)}
            </option>
          ))}
        </select>
      </label>
      {value.who_can_present === "specific_people" && (
        <fieldset className="choose">
          <legend>{t("meetings.options.presenters")}</legend>
          {candidates.length === 0 ? (
            <p className="muted small">{t("meetings.options.invite_first")}</p>
          ) : (
            candidates.map((c) => (
              <label key={c.id} className="check">
                <input type="checkbox" checked={(value.presenters ?? []).includes(c.id)} onChange={(e) => pick("presenters", c.id, e.target.checked)} />
                {c.name}
              </label>
            ))
          )}
        </fieldset>
      )}
      <fieldset className="choose">
        <legend>{t("meetings.options.coorganizers")}</legend>
        {candidates.filter((c) => !c.guest).length === 0 ? (
          <p className="muted small">{t("meetings.options.invite_first")}</p>
        ) : (
          candidates
            .filter((c) => !c.guest)
            .map((c) => (
              <label key={c.id} className="check" htmlFor={`${idPrefix}-co-${c.id}`}>
                <input
                  id={`${idPrefix}-co-${c.id}`}
                  type="checkbox"
                  checked={(value.coorganizers ?? []).includes(c.id)}
                  onChange={(e) => pick("coorganizers", c.id, e.target.checked)}
                />
                {c.name}
              </label>
            ))
        )}
      </fieldset>
      {check("allow_mic_for_attendees", "meetings.options.mic", true)}
      {check("allow_camera_for_attendees", "meetings.options.camera", true)}
      {check("allow_chat", "meetings.options.chat", true)}
      {check("dial_in_bypass", "meetings.options.dial_in_bypass", false)}
      {!withDefaults && (
        <label className="check">
          <input type="checkbox" checked={value.lock ?? false} onChange={(e) => set({ lock: e.target.checked })} />
          {t("meetings.options.lock")}
        </label>
      )}
    </fieldset>
  );
}

/** Only what was chosen: null and absent fields stay as the policy has them. */
function chosen(o: Options): Options {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Options;
}

export function ScheduleForm({ onDone, onCancel }: { onDone: (m: Meeting) => void; onCancel: () => void }) {
  const { t } = useI18n();
  const { me, people } = useWorkspace();
  const start0 = useMemo(nextHalfHour, []);
  const [subject, setSubject] = useState("");
  const [date, setDate] = useState(day(start0));
  const [from, setFrom] = useState(clock(start0));
  const [until, setUntil] = useState(clock(new Date(start0.getTime() + 30 * 60_000)));
  const [invited, setInvited] = useState<string[]>([]);
  const [emails, setEmails] = useState<string[]>([]);
  const [email, setEmail] = useState("");
  const [query, setQuery] = useState("");
  const [forwarding, setForwarding] = useState(true);
  const [options, setOptions] = useState<Options>({});
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const others = people.filter((p) => p.id !== me.id);
  const byId = new Map(others.map((p) => [p.id, p]));
  const q = query.trim().toLowerCase();
  const matches = q ? others.filter((p) => !invited.includes(p.id) && (p.display_name.toLowerCase().includes(q) || p.email.toLowerCase().includes(q))).slice(0, 8) : [];
  const candidates = invited.map((id) => byId.get(id)).filter((p): p is Person => !!p).map((p) => ({ id: p.id, name: p.display_name, guest: p.kind === "guest" }));

  const addEmail = () => {
    const v = email.trim().toLowerCase();
    if (!v) return;
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)) {
      setError(new ApiError(422, "", t("meetings.schedule.bad_email", { email: v })));
      return;
    }
    setError(null);
    if (!emails.includes(v)) setEmails([...emails, v]);
    setEmail("");
  };

  const submit = async () => {
    const starts = new Date(`${date}T${from}`);
    const ends = new Date(`${date}T${until}`);
    if (!subject.trim()) return setError(new ApiError(422, "", t("meetings.schedule.subject_needed")));
    if (Number.isNaN(starts.getTime()) || Number.isNaN(ends.getTime()) || ends <= starts)
      return setError(new ApiError(422, "", t("meetings.schedule.bad_times")));
    setBusy(true);
    setError(null);
    try {
      const m = await api.post("/api/v1/meetings", {
        body: {
          subject: subject.trim(),
          starts_at: starts.toISOString(),
          ends_at: ends.toISOString(),
          allow_forwarding: forwarding,
          invitees: [...invited.map((user_id) => ({ user_id })), ...emails.map((e) => ({ email: e }))],
          options: chosen({
            ...options,
            coorganizers: options.coorganizers?.filter((id) => invited.includes(id)),
            presenters: options.presenters?.filter((id) => invited.includes(id)),
          }),
        },
      });
      onDone(m);
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="card schedule"
      aria-labelledby="schedule-title"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2 id="schedule-title">{t("meetings.schedule.title")}</h2>
      <label>
        {t("meetings.schedule.subject")}
        <input value={subject} maxLength={250} required onChange={(e) => setSubject(e.target.value)} />
      </label>
      <div className="row when">
        <label>
          {t("meetings.schedule.date")}
          <input type="date" value={date} required onChange={(e) => setDate(e.target.value)} />
        </label>
        <label>
          {t("meetings.schedule.from")}
          <input type="time" value={from} required onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          {t("meetings.schedule.until")}
          <input type="time" value={until} required onChange={(e) => setUntil(e.target.value)} />
        </label>
      </div>
      <fieldset className="invitees">
        <legend>{t("meetings.schedule.invitees")}</legend>
        {invited.length + emails.length > 0 && (
          <ul className="chips" aria-label={t("meetings.schedule.invited_list")}>
            {invited.map((id) => (
              <li key={id}>
                {byId.get(id)?.display_name ?? id}
                <button
                  type="button"
                  className="link"
                  aria-label={t("meetings.schedule.uninvite", { name: byId.get(id)?.display_name ?? id })}
                  onClick={() => setInvited(invited.filter((x) => x !== id))}
                >
                  ×
                </button>
              </li>
            ))}
            {emails.map((e) => (
              <li key={e}>
                {e}
                <button type="button" className="link" aria-label={t("meetings.schedule.uninvite", { name: e })} onClick={() => setEmails(emails.filter((x) => x !== e))}>
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
        <label>
          {t("meetings.schedule.find")}
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} aria-describedby="schedule-find-hint" />
        </label>
        <p id="schedule-find-hint" className="muted small">
          {t("meetings.schedule.find_hint")}
        </p>
        {matches.length > 0 && (
          <ul className="matches">
            {matches.map((p) => (
              <li key={p.id}>
                <button
                  type="button"
                  className="link"
                  onClick={() => {
                    setInvited([...invited, p.id]);
                    setQuery("");
                  }}
                >
                  {t("meetings.schedule.invite_named", { name: p.display_name })}
                </button>
                <span className="muted small"> {p.email}</span>
              </li>
            ))}
          </ul>
        )}
        <div className="row">
          <label className="grow">
            {t("meetings.schedule.email")}
            <input
              type="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter") {
                  e.preventDefault();
                  addEmail();
                }
              }}
            />
          </label>
          <button type="button" onClick={addEmail}>
            {t("meetings.schedule.add_email")}
          </button>
        </div>
      </fieldset>
      <OptionsFields value={options} onChange={setOptions} withDefaults candidates={candidates} idPrefix="new" />
      <label className="check">
        <input type="checkbox" checked={forwarding} onChange={(e) => setForwarding(e.target.checked)} />
        {t("meetings.schedule.forwarding")}
      </label>
      <ErrorNote error={error} />
      <div className="row">
        <button className="primary" type="submit" disabled={busy}>
          {t("meetings.schedule.submit")}
        </button>
        <button type="button" onClick={onCancel}>
          {t("action.cancel")}
        </button>
      </div>
    </form>
  );
}

/** Change the options of a scheduled meeting (organizer; co-organizers once it started). */
export function OptionsEditor({ meeting, onDone }: { meeting: Meeting; onDone: (m: Meeting | null) => void }) {
  const { t } = useI18n();
  const [value, setValue] = useState<Options>({ ...meeting.options });
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const candidates = meeting.invitees
    .filter((i) => i.user_id)
    .map((i) => ({ id: i.user_id!, name: i.display_name ?? i.email ?? i.user_id!, guest: false }));
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      // only what changed: a co-organizer may change everything but the co-organizers
      const before = meeting.options as Record<string, unknown>;
      const body = Object.fromEntries(
        Object.entries(value).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(before[k])),
      ) as Options;
      const options = await api.patch("/api/v1/meetings/{meeting_id}/options", { path: { meeting_id: meeting.id }, body });
      onDone({ ...meeting, options });
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      className="options-editor"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <OptionsFields value={value} onChange={setValue} withDefaults={false} candidates={candidates} idPrefix={meeting.id} />
      <ErrorNote error={error} />
      <div className="row">
        <button className="primary" type="submit" disabled={busy}>
          {t("action.save")}
        </button>
        <button type="button" onClick={() => onDone(null)}>
          {t("action.cancel")}
        </button>
      </div>
    </form>
  );
}
