// Making a team (with its first members) and adding a channel to one: what an organisation
// does first, by hand, in a new Overleg.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { useWorkspace } from "./Shell";
import { ErrorNote } from "./ui";

function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-label={title} onClose={onClose}>
      <h2>{title}</h2>
      {children}
    </dialog>
  );
}

export function NewTeam({ onClose, onMade }: { onClose: () => void; onMade: (team: Schemas["TeamPublic"]) => void }) {
  const { t } = useI18n();
  const { people, me } = useWorkspace();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [privacy, setPrivacy] = useState<"private" | "public">("private");
  const [members, setMembers] = useState<string[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const team = await api.post("/api/v1/teams", { body: { name, description, privacy } });
      for (const user_id of members)
        await api.post("/api/v1/teams/{team_id}/members", { path: { team_id: team.id }, body: { user_id, role: "member" } });
      onMade(team);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={t("team.new")} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          {t("team.name")}
          <input required maxLength={256} value={name} onChange={(e) => setName(e.target.value)} autoFocus />
        </label>
        <label>
          {t("team.description")}
          <input value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <label>
          {t("team.privacy")}
          <select value={privacy} onChange={(e) => setPrivacy(e.target.value as "private" | "public")}>
            <option value="private">{t("team.private")}</option>
            <option value="public">{t("team.public")}</option>
          </select>
        </label>
        <fieldset className="people-pick">
          <legend>{t("team.members")}</legend>
          {people
            .filter((p) => p.id !== me.id)
            .map((p) => (
              <label key={p.id} className="check">
                <input
                  type="checkbox"
                  checked={members.includes(p.id)}
                  onChange={(e) => setMembers(e.target.checked ? [...members, p.id] : members.filter((x) => x !== p.id))}
                />
                <span>
                  {p.display_name} <span className="muted small">{p.email}</span>
                </span>
              </label>
            ))}
        </fieldset>
        <ErrorNote error={error} />
        <div className="row">
          <span className="spacer" />
          <button type="button" onClick={onClose}>
            {t("action.cancel")}
          </button>
          <button className="primary" disabled={busy || !name.trim()}>
            {t("team.create")}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function NewChannel({
  team,
  onClose,
  onMade,
}: {
  team: Schemas["TeamPublic"];
  onClose: () => void;
  onMade: (channel: Schemas["ChannelPublic"]) => void;
}) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      onMade(await api.post("/api/v1/teams/{team_id}/channels", { path: { team_id: team.id }, body: { name, description: "", kind: "standard" } }));
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <Dialog title={t("channel.new_in", { team: team.name })} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          {t("channel.name")}
          <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} autoFocus />
        </label>
        <ErrorNote error={error} />
        <div className="row">
          <span className="spacer" />
          <button type="button" onClick={onClose}>
            {t("action.cancel")}
          </button>
          <button className="primary" disabled={!name.trim()}>
            {t("channel.create")}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
