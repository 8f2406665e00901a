// Pieces the admin pages share: modal panels (native <dialog>: focus trap, Escape, top
// layer), field errors from problem+json, a switch, page headers, and a loader that goes
// through the step-up guard.
import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import { useI18n, type Key, type T } from "../i18n";
import { admin } from "./strings";
import { needsStepUp, useStepUp } from "./stepup";

/** A translated string for a key made at run time, or `fallback` when there is none. */
export function useMaybe(): (key: string, fallback: string, vars?: Record<string, string | number>) => string {
  const { t } = useI18n();
  return useCallback(
    (key: string, fallback: string, vars?: Record<string, string | number>) => (key in admin.en ? t(key as Key, vars) : fallback),
    [t],
  );
}

/** An ApiError for anything thrown (network failures included). */
export function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, "offline", "");
}

/** Field path -> message, from a problem's `field` (our services) or `invalid_params`
 * (request validation). The message loses its "field: " prefix. */
export function fieldErrors(error: ApiError | null): Record<string, string> {
  if (!error || error.status !== 422) return {};
  const out: Record<string, string> = {};
  const strip = (name: string, text: string) => (text.startsWith(`${name}: `) ? text.slice(name.length + 2) : text);
  const params = error.problem.invalid_params;
  if (Array.isArray(params)) {
    for (const p of params as { name?: unknown; reason?: unknown }[]) {
      if (typeof p.name === "string" && typeof p.reason === "string") out[p.name] ??= p.reason;
    }
  }
  const field = error.problem.field;
  if (typeof field === "string") out[field] ??= strip(field, error.detail);
  return out;
}

/** A modal panel: "flyout" slides in from the right (details, forms), "dialog" is centred. */
export function Modal({
  title,
  onClose,
  children,
  kind = "flyout",
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  kind?: "flyout" | "dialog";
}) {
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
      className={`admin-modal admin-${kind}`}
      aria-labelledby={id}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <div className="admin-modal-head">
        <h2 id={id}>{title}</h2>
        <button type="button" className="icon" aria-label={t("action.close")} onClick={onClose}>
          ×
        </button>
      </div>
      <div className="admin-modal-body">{children}</div>
    </dialog>
  );
}

/** An on/off setting: a checkbox that screen readers announce as a switch. */
export function Switch({
  label,
  checked,
  onChange,
  describedBy,
  invalid,
  disabled,
}: {
  label: string;
  checked: boolean;
  onChange: (v: boolean) => void;
  describedBy?: string;
  invalid?: boolean;
  disabled?: boolean;
}) {
  const { t } = useI18n();
  // the visible "On"/"Off" is outside the label: the switch's name is the label alone
  return (
    <div className="admin-switch-row">
      <label className="admin-switch">
        <input
          type="checkbox"
          role="switch"
          checked={checked}
          disabled={disabled}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
          onChange={(e) => onChange(e.target.checked)}
        />
        <span className="admin-switch-track" aria-hidden="true" />
        <span className="admin-switch-label">{label}</span>
      </label>
      <span className="admin-switch-state" aria-hidden="true">
        {checked ? t("admin.on") : t("admin.off")}
      </span>
    </div>
  );
}

export function PageHead({ title, intro, children }: { title: string; intro?: string; children?: ReactNode }) {
  return (
    <header className="admin-page-head">
      <div>
        <h1>{title}</h1>
        {intro && <p className="muted admin-intro">{intro}</p>}
      </div>
      {children && <div className="admin-commands">{children}</div>}
    </header>
  );
}

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Load `fetch` (through the step-up guard) now and whenever `deps` change. */
export function useLoaded<T>(fetch: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const guard = useStepUp();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    guard(fetch).then(
      (d) => {
        if (!live) return;
        setData(d);
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setError(asApiError(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [round, ...deps]); // eslint-disable-line react-hooks/exhaustive-deps
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data, error, loading, reload };
}

/** A problem in plain words (the server's detail, but not its API hints). */
export function problemText(t: T, error: ApiError): string {
  if (error.status === 0) return t("error.offline");
  if (needsStepUp(error)) return t("admin.stepup.needed");
  return error.detail || error.title;
}

/** An action's problem, announced. */
export function ProblemNote({ error }: { error: ApiError | null }) {
  const { t } = useI18n();
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {problemText(t, error)}
    </p>
  );
}

/** A page's problem in plain words, with a retry button. */
export function LoadError({ error, onRetry }: { error: ApiError; onRetry: () => void }) {
  const { t } = useI18n();
  const text = error.status === 403 ? t("admin.error.forbidden") : problemText(t, error);
  return (
    <div className="error admin-load-error" role="alert">
      <p>{text}</p>
      <button type="button" onClick={onRetry}>
        {t("action.retry")}
      </button>
    </div>
  );
}

export function Loading({ label }: { label: string }) {
  return (
    <p className="muted admin-loading" role="status" aria-busy="true">
      {label}
    </p>
  );
}
