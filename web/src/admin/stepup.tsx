// Step-up: admin calls need a second factor given in the last few minutes (the server's
// STEP_UP_MINUTES). When a call answers 401 "mfa-required", the guard asks for a code from
// the authenticator app (or a recovery code) in a dialog, confirms it with
// POST /api/v1/auth/step-up, and runs the call again. Calls that need it at the same time
// share one dialog; cancelling rejects them with the server's answer.
import { createContext, useCallback, useContext, useRef, useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../api/client";
import { ErrorNote } from "../app/ui";
import { useI18n } from "../i18n";
import { asApiError, Modal } from "./ui";

export type Guard = <T>(call: () => Promise<T>) => Promise<T>;

const GuardCtx = createContext<Guard | null>(null);

/** The guard of the nearest StepUpProvider. */
export function useStepUp(): Guard {
  const g = useContext(GuardCtx);
  if (!g) throw new Error("useStepUp outside StepUpProvider");
  return g;
}

export function needsStepUp(e: unknown): boolean {
  return e instanceof ApiError && e.status === 401 && String(e.problem.type ?? "").endsWith("/mfa-required");
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  cause: ApiError;
}

/** At most this many dialogs for one call: a server that keeps asking is not looped on. */
const MAX_ASKS = 3;

export function StepUpProvider({ children }: { children: ReactNode }) {
  const waiters = useRef<Waiter[]>([]);
  const [open, setOpen] = useState(false);

  const ask = useCallback(
    (cause: ApiError) =>
      new Promise<void>((resolve, reject) => {
        waiters.current.push({ resolve, reject, cause });
        setOpen(true);
      }),
    [],
  );

  const guard = useCallback<Guard>(
    async <T,>(call: () => Promise<T>) => {
      for (let asked = 0; ; asked += 1) {
        try {
          return await call();
        } catch (e) {
          if (!needsStepUp(e) || asked >= MAX_ASKS) throw e;
          await ask(e as ApiError);
        }
      }
    },
    [ask],
  );

  const finish = (ok: boolean) => {
    const all = waiters.current;
    waiters.current = [];
    setOpen(false);
    for (const w of all) {
      if (ok) w.resolve();
      else w.reject(w.cause);
    }
  };

  return (
    <GuardCtx.Provider value={guard}>
      {children}
      {open && <StepUpDialog onDone={() => finish(true)} onCancel={() => finish(false)} />}
    </GuardCtx.Provider>
  );
}

function StepUpDialog({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const { t } = useI18n();
  const [recovery, setRecovery] = useState(false);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = recovery ? { recovery_code: code.trim() } : { code: code.replace(/\s/g, "") };
    try {
      await api.post("/api/v1/auth/step-up", { body });
      onDone();
    } catch (err) {
      setError(asApiError(err));
      setBusy(false);
    }
  };

  return (
    <Modal title={t("admin.stepup.title")} onClose={onCancel} kind="dialog">
      <form onSubmit={(e) => void submit(e)} className="admin-stepup">
        <p>{t("admin.stepup.why")}</p>
        <label>
          {recovery ? t("admin.stepup.recovery_label") : t("admin.stepup.code_label")}
          <input
            autoFocus
            required
            value={code}
            onChange={(e) => setCode(e.target.value)}
            autoComplete="one-time-code"
            inputMode={recovery ? "text" : "numeric"}
          />
        </label>
        <button
          type="button"
          className="link"
          onClick={() => {
            setRecovery(!recovery);
            setCode("");
            setError(null);
          }}
        >
          {recovery ? t("admin.stepup.use_code") : t("admin.stepup.use_recovery")}
        </button>
        <ErrorNote error={error} />
        <div className="row admin-form-actions">
          <button className="primary" disabled={busy || !code.trim()}>
            {busy ? t("state.working") : t("admin.stepup.verify")}
          </button>
          <button type="button" onClick={onCancel}>
            {t("action.cancel")}
          </button>
        </div>
      </form>
    </Modal>
  );
}
