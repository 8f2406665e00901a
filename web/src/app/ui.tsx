// Small shared pieces: the error note (problem+json in plain words) and badges.
import { ApiError } from "../api/client";
import { useI18n, type Key } from "../i18n";

export function ErrorNote({ error }: { error: ApiError | null }) {
  const { t } = useI18n();
  if (!error) return null;
  const text = error.status === 0 ? t("error.offline") : error.detail || error.title;
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}

const STATE_KEYS: Record<string, Key> = {
  scan_pending: "file.state.scan_pending",
  clean: "file.state.clean",
  infected: "file.state.infected",
  scan_failed: "file.state.scan_failed",
};

export function ScanBadge({ state }: { state: string }) {
  const { t } = useI18n();
  const key = STATE_KEYS[state] ?? "file.state.scan_pending";
  return (
    <span className={`badge badge-${state}`} data-state={state}>
      {t(key)}
    </span>
  );
}
