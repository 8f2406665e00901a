// Sharing a file: with named people of the organisation (view or edit), and by link where
// the organisation's policy allows it (people of the organisation or anyone; expiry and
// password). A refusal by policy comes back as the server's own words.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { when } from "../lib/format";
import { useWorkspace } from "./Shell";
import { ErrorNote } from "./ui";

type Share = Schemas["SharePublic"];
type Link = Schemas["LinkPublic"];
type Role = "view" | "edit";

export function ShareDialog({ file, onClose }: { file: Schemas["FilePublic"]; onClose: () => void }) {
  const { t, lang } = useI18n();
  const { people, me } = useWorkspace();
  const dialog = useRef<HTMLDialogElement>(null);
  const [shares, setShares] = useState<Share[] | null>(null);
  const [links, setLinks] = useState<Link[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [person, setPerson] = useState("");
  const [role, setRole] = useState<Role>("view");
  const [audience, setAudience] = useState<"people" | "anyone">("people");
  const [linkRole, setLinkRole] = useState<Role>("view");
  const [days, setDays] = useState("");
  const [password, setPassword] = useState("");
  const [made, setMade] = useState<string | null>(null);
  const path = { file_id: file.id };

  const load = useCallback(async () => {
    try {
      const [s, l] = await Promise.all([
        api.get("/api/v1/files/{file_id}/shares", { path }),
        api.get("/api/v1/files/{file_id}/links", { path }),
      ]);
      setShares(s);
      setLinks(l);
    } catch (e) {
      setError(e as ApiError);
    }
  }, [file.id]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    dialog.current?.showModal();
    void load();
  }, [load]);

  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      await load();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  const candidates = people.filter((p) => p.id !== me.id && !(shares ?? []).some((s) => s.user_id === p.id && !s.via_link));

  return (
    <dialog ref={dialog} className="dialog share-dialog" aria-labelledby="share-title" onClose={onClose}>
      <h2 id="share-title">{t("share.title", { name: file.name })}</h2>
      <ErrorNote error={error} />
      <section aria-labelledby="share-people">
        <h3 id="share-people">{t("share.people")}</h3>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            if (person)
              void act(() => api.put("/api/v1/files/{file_id}/shares/{user_id}", { path: { ...path, user_id: person }, body: { role } }));
            setPerson("");
          }}
        >
          <label className="grow">
            {t("share.person")}
            <select value={person} onChange={(e) => setPerson(e.target.value)}>
              <option value="">{t("share.choose")}</option>
              {candidates.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.display_name} ({p.email})
                </option>
              ))}
            </select>
          </label>
          <label>
            {t("share.role")}
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              <option value="view">{t("share.role.view")}</option>
              <option value="edit">{t("share.role.edit")}</option>
            </select>
          </label>
          <button className="primary" disabled={!person}>
            {t("share.add")}
          </button>
        </form>
        {shares && shares.length === 0 ? (
          <p className="muted">{t("share.nobody")}</p>
        ) : (
          <ul className="share-list">
            {(shares ?? []).map((s) => (
              <li key={`${s.user_id}-${s.via_link ?? ""}`}>
                <span>
                  {s.display_name} · {t(s.role === "edit" ? "share.role.edit" : "share.role.view")}
                  {s.via_link && <span className="muted small"> · {t("share.via_link")}</span>}
                </span>
                {!s.via_link && (
                  <button
                    className="link danger"
                    onClick={() =>
                      void act(() => api.del("/api/v1/files/{file_id}/shares/{user_id}", { path: { ...path, user_id: s.user_id } }))
                    }
                  >
                    {t("share.stop", { name: s.display_name })}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="share-links">
        <h3 id="share-links">{t("share.links")}</h3>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const expires = days ? new Date(Date.now() + Number(days) * 86_400_000).toISOString() : null;
            void act(async () => {
              const link = await api.post("/api/v1/files/{file_id}/links", {
                path,
                body: { audience, role: linkRole, expires_at: expires, password: password || null },
              });
              setMade(`${location.origin}${link.url}/content`);
              setPassword("");
            });
          }}
        >
          <div className="row">
            <label>
              {t("share.audience")}
              <select value={audience} onChange={(e) => setAudience(e.target.value as "people" | "anyone")}>
                <option value="people">{t("share.audience.people")}</option>
                <option value="anyone">{t("share.audience.anyone")}</option>
              </select>
            </label>
            <label>
              {t("share.role")}
              <select value={linkRole} onChange={(e) => setLinkRole(e.target.value as Role)}>
                <option value="view">{t("share.role.view")}</option>
                <option value="edit">{t("share.role.edit")}</option>
              </select>
            </label>
            <label>
              {t("share.days")}
              <input type="number" min={1} max={3650} value={days} onChange={(e) => setDays(e.target.value)} placeholder={t("share.days_default")} />
            </label>
          </div>
          <label>
            {t("share.password")}
            <input type="password" autoComplete="new-password" minLength={8} value={password} onChange={(e) => setPassword(e.target.value)} />
          </label>
          <button className="primary">{t("share.make_link")}</button>
        </form>
        {made && (
          <p className="made-link" role="status">
            {t("share.made")} <input readOnly value={made} aria-label={t("share.link_address")} onFocus={(e) => e.target.select()} />
          </p>
        )}
        <ul className="share-list">
          {(links ?? []).map((l) => (
            <li key={l.id} data-state={l.state}>
              <span>
                {t(l.audience === "anyone" ? "share.audience.anyone" : "share.audience.people")} ·{" "}
                {t(l.role === "edit" ? "share.role.edit" : "share.role.view")}
                {l.has_password && ` · ${t("share.with_password")}`}
                <span className="muted small">
                  {" "}
                  · {l.state === "active" ? (l.expires_at ? t("share.until", { date: when(l.expires_at, lang) }) : t("share.no_end")) : t(`share.state.${l.state}`)}
                </span>
              </span>
              {l.state === "active" && (
                <button
                  className="link danger"
                  onClick={() => void act(() => api.del("/api/v1/files/{file_id}/links/{link_id}", { path: { ...path, link_id: l.id } }))}
                >
                  {t("share.turn_off")}
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
      <div className="row">
        <span className="spacer" />
        <button onClick={() => dialog.current?.close()}>{t("action.close")}</button>
      </div>
    </dialog>
  );
}
