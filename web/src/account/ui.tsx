// Small pieces of the account area: an error note for API and passkey failures, the
// recovery codes panel, and a modal dialog on the native <dialog> (focus trap, Escape).
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import { ErrorNote } from "../app/ui";
import { useI18n } from "../i18n";
import { FAILURE_TEXT, PasskeyError } from "./webauthn";

export type Problem = ApiError | PasskeyError | null;

/** Anything thrown, as something Note can show (network failures included). */
export function problemOf(e: unknown): ApiError | PasskeyError {
  if (e instanceof ApiError || e instanceof PasskeyError) return e;
  return new ApiError(0, "offline", "");
}

export function Note({ error }: { error: Problem }) {
  const { t } = useI18n();
  if (error instanceof PasskeyError)
    return (
      <p className="error" role="alert">
        {t(FAILURE_TEXT[error.reason])}
      </p>
    );
  return <ErrorNote error={error} />;
}

/** Run async work with a busy flag and the error it ended with. */
export function useWork() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Problem>(null);
  const run = async (work: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await work();
      return true;
    } catch (e) {
      setError(problemOf(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

export function RecoveryCodesPanel({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useI18n();
  const ref = useRef<HTMLElement>(null);
  const [copied, setCopied] = useState(false);
  useEffect(() => ref.current?.focus(), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(codes.join("\n"));
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <section className="account-section account-codes" ref={ref} tabIndex={-1} aria-labelledby="account-codes-title">
      <h2 id="account-codes-title">{t("codes.title")}</h2>
      <p className="muted">{t("codes.hint")}</p>
      <ul className="codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <div className="row">
        <button type="button" onClick={() => void copy()}>
          {t("account.codes.copy")}
        </button>
        <span role="status" className="muted small">
          {copied ? t("account.codes.copied") : ""}
        </span>
        <span className="spacer" />
        <button type="button" className="primary" onClick={onDone}>
          {t("codes.done")}
        </button>
      </div>
    </section>
  );
}

/** A centred modal dialog; Escape or the close button calls onClose. */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const { t } = useI18n();
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className="account-dialog"
      aria-labelledby={id}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <div className="account-dialog-head">
        <h2 id={id}>{title}</h2>
        <button type="button" className="icon" aria-label={t("action.close")} onClick={onClose}>
          ×
        </button>
      </div>
      {children}
    </dialog>
  );
}
