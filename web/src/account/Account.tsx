// My account: where I am signed in, and how I sign in (passkeys, the authenticator app,
// recovery codes). Changing a factor may first ask to confirm it's me (useStepUp).
import { useCallback, useEffect, useRef, useState } from "react";
import { api, type Schemas } from "../api/client";
import { useWorkspace } from "../app/Shell";
import { useI18n } from "../i18n";
import { Authenticator, RecoveryCodes } from "./Authenticator";
import { Passkeys } from "./Passkeys";
import { Sessions } from "./Sessions";
import { useStepUp } from "./StepUp";
import { Note, RecoveryCodesPanel, useWork } from "./ui";
import "./account.css";

export function Account() {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const [totpOn, setTotpOn] = useState(me.mfa_enabled);
  const [passkeys, setPasskeys] = useState<Schemas["PasskeyPublic"][] | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [status, setStatus] = useState("");
  const load = useWork();
  const { guard, dialog } = useStepUp({ totp: totpOn, passkey: (passkeys?.length ?? 0) > 0 });
  const statusTimer = useRef<number | undefined>(undefined);

  const reloadPasskeys = useCallback(async () => {
    setPasskeys(await api.get("/api/v1/me/passkeys"));
  }, []);
  const loadPasskeys = () => load.run(reloadPasskeys);
  useEffect(() => {
    void loadPasskeys();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps -- once, on opening the page

  // a short confirmation, read out by screen readers; it clears itself
  const say = useCallback((text: string) => {
    setStatus(text);
    window.clearTimeout(statusTimer.current);
    statusTimer.current = window.setTimeout(() => setStatus(""), 8000);
  }, []);
  useEffect(() => () => window.clearTimeout(statusTimer.current), []);

  return (
    <section className="page account" aria-labelledby="account-title">
      <header className="account-head">
        <h1 id="account-title">{t("account.title")}</h1>
        <p className="muted">
          {me.display_name} · {me.email}
        </p>
        <p className="muted">{t("account.intro")}</p>
      </header>
      <p className="account-status" role="status" aria-live="polite">
        {status}
      </p>
      {codes && <RecoveryCodesPanel codes={codes} onDone={() => setCodes(null)} />}
      {passkeys === null ? (
        <section className="account-section" aria-busy={!load.error}>
          {load.error ? (
            <>
              <Note error={load.error} />
              <button type="button" onClick={() => void loadPasskeys()}>
                {t("action.retry")}
              </button>
            </>
          ) : (
            <p className="muted">{t("state.loading")}</p>
          )}
        </section>
      ) : (
        <Passkeys passkeys={passkeys} reload={reloadPasskeys} guard={guard} onCodes={setCodes} say={say} />
      )}
      <Authenticator on={totpOn} setOn={setTotpOn} guard={guard} onCodes={setCodes} say={say} />
      {(totpOn || (passkeys?.length ?? 0) > 0) && <RecoveryCodes guard={guard} onCodes={setCodes} />}
      <Sessions say={say} />
      {dialog}
    </section>
  );
}
