// Changing how one signs in needs a second factor given in the last few minutes. When a
// call answers 401 "mfa-required", the guard asks for it in a dialog (a passkey, a code
// from the app or a recovery code), confirms it with the server and runs the call again.
import { useCallback, useRef, useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../api/client";
import { useI18n } from "../i18n";
import { PasskeyIcon } from "./PasskeySignIn";
import { Dialog, Note, useWork } from "./ui";
import { getPasskey, passkeysSupported } from "./webauthn";

export type Guard = <T>(call: () => Promise<T>) => Promise<T>;

export function needsStepUp(e: unknown): e is ApiError {
  return e instanceof ApiError && e.status === 401 && String(e.problem.type ?? "").endsWith("/mfa-required");
}

/** A guard for calls, and the dialog to render while it asks. */
export function useStepUp(factors: { totp: boolean; passkey: boolean }): { guard: Guard; dialog: ReactNode } {
  const waiting = useRef<{ resolve: () => void; reject: () => void } | null>(null);
  const [open, setOpen] = useState(false);

  const guard = useCallback<Guard>(async <T,>(call: () => Promise<T>) => {
    try {
      return await call();
    } catch (e) {
      if (!needsStepUp(e)) throw e;
      await new Promise<void>((resolve, reject) => {
        waiting.current = { resolve, reject: () => reject(e) };
        setOpen(true);
      });
      return await call(); // once: a server that asks again is answered with its error
    }
  }, []);

  const finish = (ok: boolean) => {
    const w = waiting.current;
    waiting.current = null;
    setOpen(false);
    if (ok) w?.resolve();
    else w?.reject();
  };

  const dialog = open ? (
    <StepUpDialog factors={factors} onDone={() => finish(true)} onCancel={() => finish(false)} />
  ) : null;
  return { guard, dialog };
}

function StepUpDialog({
  factors,
  onDone,
  onCancel,
}: {
  factors: { totp: boolean; passkey: boolean };
  onDone: () => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  // without the app, a recovery code is the other way
  const [recovery, setRecovery] = useState(!factors.totp);
  const [code, setCode] = useState("");
  const { busy, error, run } = useWork();
  const withPasskey = factors.passkey && passkeysSupported();

  const usePasskey = () =>
    run(async () => {
      const { options } = await api.post("/api/v1/auth/passkey/options");
      const credential = await getPasskey(options);
      await api.post("/api/v1/auth/step-up/passkey", { body: { credential } });
      onDone();
    });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body = recovery ? { recovery_code: code.trim() } : { code: code.replace(/\s/g, "") };
    void run(async () => {
      await api.post("/api/v1/auth/step-up", { body });
      onDone();
    });
  };

  return (
    <Dialog title={t("account.stepup.title")} onClose={onCancel}>
      <p>{t("account.stepup.why")}</p>
      {withPasskey && (
        <div className="passkey-alt passkey-first">
          <button type="button" className="passkey-button" disabled={busy} onClick={() => void usePasskey()}>
            <PasskeyIcon />
            {t("account.passkey.use")}
          </button>
          <p className="passkey-or">
            <span>{t("account.passkey.or_code")}</span>
          </p>
        </div>
      )}
      <form onSubmit={submit}>
        <label>
          {recovery ? t("mfa.recovery_code") : t("mfa.code")}
          <input
            autoFocus={!withPasskey}
            required
            value={code}
            onChange={(e) => setCode(e.target.value)}
            autoComplete="one-time-code"
            inputMode={recovery ? "text" : "numeric"}
          />
        </label>
        {factors.totp && (
          <button
            type="button"
            className="link"
            onClick={() => {
              setRecovery(!recovery);
              setCode("");
            }}
          >
            {recovery ? t("mfa.use_code") : t("mfa.use_recovery")}
          </button>
        )}
        <div className="row account-actions">
          <button className="primary" disabled={busy || !code.trim()}>
            {busy ? t("state.working") : t("account.stepup.verify")}
          </button>
          <button type="button" onClick={onCancel}>
            {t("action.cancel")}
          </button>
        </div>
      </form>
      <Note error={error} />
    </Dialog>
  );
}
