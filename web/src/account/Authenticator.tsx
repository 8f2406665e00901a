// The authenticator app: set it up (QR code from the server, confirmed with one code) or
// turn it off; and new recovery codes. Changes need a fresh second factor (the guard asks).
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import type { Guard } from "./StepUp";
import { Note, useWork } from "./ui";

export function Authenticator({
  on,
  setOn,
  guard,
  onCodes,
  say,
}: {
  on: boolean;
  setOn: (on: boolean) => void;
  guard: Guard;
  onCodes: (codes: string[]) => void;
  say: (text: string) => void;
}) {
  const { t } = useI18n();
  const [setup, setSetup] = useState<Schemas["TotpEnrolment"] | null>(null);
  const [code, setCode] = useState("");
  const [confirming, setConfirming] = useState(false);
  const { busy, error, setError, run } = useWork();

  const begin = () => run(async () => setSetup(await guard(() => api.post("/api/v1/me/mfa/totp"))));
  const activate = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const r = await api.post("/api/v1/me/mfa/totp/activate", { body: { code: code.replace(/\s/g, "") } });
      setSetup(null);
      setCode("");
      setOn(true);
      onCodes(r.codes);
    });
  };
  const turnOff = () =>
    run(async () => {
      await guard(() => api.del("/api/v1/me/mfa/totp"));
      setConfirming(false);
      setOn(false);
      say(t("account.totp.turned_off"));
    });

  return (
    <section className="account-section" aria-labelledby="account-totp-title">
      <h2 id="account-totp-title">{t("account.totp.title")}</h2>
      {setup ? (
        <form onSubmit={activate} className="account-totp-setup">
          <p>{t("account.totp.scan")}</p>
          <img className="qr" src={setup.qr_png} alt={t("enrol.qr_alt")} width={200} height={200} />
          <details>
            <summary>{t("enrol.manual")}</summary>
            <code className="secret" aria-label={t("enrol.secret")}>
              {setup.secret}
            </code>
          </details>
          <label>
            {t("mfa.code")}
            <input
              required
              autoFocus
              value={code}
              onChange={(e) => setCode(e.target.value)}
              inputMode="numeric"
              autoComplete="one-time-code"
            />
          </label>
          <Note error={error} />
          <div className="row account-actions">
            <button className="primary" disabled={busy || !code.trim()}>
              {busy ? t("state.working") : t("account.totp.turn_on")}
            </button>
            <button
              type="button"
              onClick={() => {
                setSetup(null);
                setError(null);
              }}
            >
              {t("action.cancel")}
            </button>
          </div>
        </form>
      ) : on ? (
        <>
          <p>
            <span className="badge account-badge-on" aria-hidden="true">
              ✓
            </span>{" "}
            {t("account.totp.on")}
          </p>
          {confirming ? (
            <div className="account-confirm" role="group" aria-label={t("account.totp.turn_off")}>
              <p>{t("account.totp.confirm_off")}</p>
              <div className="row">
                <button type="button" className="primary danger-fill" disabled={busy} onClick={() => void turnOff()}>
                  {t("account.totp.turn_off")}
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  {t("action.cancel")}
                </button>
              </div>
            </div>
          ) : (
            <button type="button" disabled={busy} onClick={() => setConfirming(true)}>
              {t("account.totp.turn_off")}
            </button>
          )}
          <Note error={error} />
        </>
      ) : (
        <>
          <p className="muted">{t("account.totp.off")}</p>
          <button type="button" className="primary" disabled={busy} onClick={() => void begin()}>
            {busy ? t("state.working") : t("account.totp.set_up")}
          </button>
          <Note error={error} />
        </>
      )}
    </section>
  );
}

/** New recovery codes (for an account with a second factor): the old ones stop working. */
export function RecoveryCodes({ guard, onCodes }: { guard: Guard; onCodes: (codes: string[]) => void }) {
  const { t } = useI18n();
  const { busy, error, run } = useWork();
  const renew = () =>
    run(async () => onCodes((await guard(() => api.post("/api/v1/me/mfa/recovery-codes"))).codes));
  return (
    <section className="account-section" aria-labelledby="account-recovery-title">
      <h2 id="account-recovery-title">{t("account.recovery.title")}</h2>
      <p className="muted">{t("account.recovery.hint")}</p>
      <button type="button" disabled={busy} onClick={() => void renew()}>
        {busy ? t("state.working") : t("account.recovery.new")}
      </button>
      <Note error={error} />
    </section>
  );
}
