// The account's passkeys: the list (name, when added and last used, synced or not), adding
// one under a name (the browser's own prompt: fingerprint, face or PIN), renaming and
// removing. Adding and removing need a fresh second factor (the guard asks).
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { when } from "../lib/format";
import type { Guard } from "./StepUp";
import { Note, useWork } from "./ui";
import { createPasskey, passkeysSupported } from "./webauthn";

type Passkey = Schemas["PasskeyPublic"];

export function Passkeys({
  passkeys,
  reload,
  guard,
  onCodes,
  say,
}: {
  passkeys: Passkey[];
  reload: () => Promise<void>;
  guard: Guard;
  onCodes: (codes: string[]) => void;
  say: (text: string) => void;
}) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const { busy, error, run } = useWork();
  const supported = passkeysSupported();

  const add = (e: FormEvent) => {
    e.preventDefault();
    const chosen = name.trim();
    void run(async () => {
      const { options } = await guard(() => api.post("/api/v1/me/passkeys/options"));
      const credential = await createPasskey(options);
      const r = await api.post("/api/v1/me/passkeys", { body: { name: chosen, credential } });
      setName("");
      say(t("account.passkeys.added", { name: r.passkey.name }));
      if (r.recovery_codes) onCodes(r.recovery_codes);
      await reload();
    });
  };

  return (
    <section className="account-section" aria-labelledby="account-passkeys-title">
      <h2 id="account-passkeys-title">{t("account.passkeys.title")}</h2>
      <p className="muted">{t("account.passkeys.hint")}</p>
      {passkeys.length === 0 ? (
        <p className="muted">{t("account.passkeys.none")}</p>
      ) : (
        <ul className="account-list" aria-label={t("account.passkeys.list")}>
          {passkeys.map((p) => (
            <PasskeyItem key={p.id} passkey={p} reload={reload} guard={guard} say={say} />
          ))}
        </ul>
      )}
      {supported ? (
        <form onSubmit={add} className="account-add">
          <label>
            {t("account.passkeys.name")}
            <input
              required
              maxLength={100}
              value={name}
              onChange={(e) => setName(e.target.value)}
              aria-describedby="account-passkey-name-hint"
            />
          </label>
          <p id="account-passkey-name-hint" className="muted small">
            {t("account.passkeys.name_hint")}
          </p>
          <button className="primary" disabled={busy || !name.trim()}>
            {busy ? t("account.passkey.waiting") : t("account.passkeys.add")}
          </button>
          <Note error={error} />
        </form>
      ) : (
        <p className="account-unsupported">{t("account.passkeys.unsupported")}</p>
      )}
    </section>
  );
}

function PasskeyItem({
  passkey: p,
  reload,
  guard,
  say,
}: {
  passkey: Passkey;
  reload: () => Promise<void>;
  guard: Guard;
  say: (text: string) => void;
}) {
  const { t, lang } = useI18n();
  const [mode, setMode] = useState<"view" | "rename" | "remove">("view");
  const [name, setName] = useState(p.name);
  const { busy, error, setError, run } = useWork();

  const rename = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await api.patch("/api/v1/me/passkeys/{passkey_id}", { path: { passkey_id: p.id }, body: { name: name.trim() } });
      setMode("view");
      await reload();
    });
  };
  const remove = () =>
    run(async () => {
      await guard(() => api.del("/api/v1/me/passkeys/{passkey_id}", { path: { passkey_id: p.id } }));
      say(t("account.passkeys.removed", { name: p.name }));
      await reload();
    });
  const back = () => {
    setMode("view");
    setName(p.name);
    setError(null);
  };

  return (
    <li className="account-item account-passkey">
      <div className="account-item-main">
        <span className="account-item-name">
          {p.name}
          {p.backed_up && (
            <span className="badge account-badge-synced" title={t("account.passkeys.synced_hint")}>
              {t("account.passkeys.synced")}
            </span>
          )}
        </span>
        <span className="muted small">
          {t("account.passkeys.added_on", { when: when(p.created_at, lang) })} ·{" "}
          {p.last_used_at
            ? t("account.passkeys.last_used", { when: when(p.last_used_at, lang) })
            : t("account.passkeys.never_used")}
        </span>
        {mode === "rename" && (
          <form onSubmit={rename} className="account-inline">
            <label>
              {t("account.passkeys.new_name", { name: p.name })}
              <input required autoFocus maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
            </label>
            <div className="row">
              <button className="primary" disabled={busy || !name.trim()}>
                {t("action.save")}
              </button>
              <button type="button" onClick={back}>
                {t("action.cancel")}
              </button>
            </div>
          </form>
        )}
        {mode === "remove" && (
          <div className="account-confirm" role="group" aria-label={t("account.passkeys.remove_named", { name: p.name })}>
            <p>{t("account.passkeys.confirm_remove", { name: p.name })}</p>
            <div className="row">
              <button type="button" className="primary danger-fill" disabled={busy} onClick={() => void remove()}>
                {t("action.remove")}
              </button>
              <button type="button" onClick={back}>
                {t("action.cancel")}
              </button>
            </div>
          </div>
        )}
        <Note error={error} />
      </div>
      {mode === "view" && (
        <div className="row account-item-tools">
          <button type="button" aria-label={t("account.passkeys.rename_named", { name: p.name })} onClick={() => setMode("rename")}>
            {t("account.passkeys.rename")}
          </button>
          <button type="button" aria-label={t("account.passkeys.remove_named", { name: p.name })} onClick={() => setMode("remove")}>
            {t("action.remove")}
          </button>
        </div>
      )}
    </li>
  );
}
