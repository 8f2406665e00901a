// Service health: whether the database, Redis, each Janus media server and the ClamAV
// scanner answer this server node, checked on request. The server bounds every check (a
// hung service is "down", never waited for); the page also gives up on the call itself
// after a while, so it never hangs.
import { api, ApiError, type Schemas } from "../api/client";
import { useI18n, type Key } from "../i18n";
import { when } from "../lib/format";
import { LoadError, Loading, PageHead, useLoaded } from "./ui";

type Component = Schemas["ComponentStatus"];

/** The page's own bound on the status call (the server answers within its checks' bound). */
const CALL_TIMEOUT_MS = 20_000;

async function fetchStatus(timeoutText: string): Promise<Schemas["ServiceStatus"]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), CALL_TIMEOUT_MS);
  try {
    return await api.get("/api/admin/status", { signal: abort.signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw new ApiError(504, "timeout", timeoutText);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

export function ServiceHealth() {
  const { t, lang } = useI18n();
  const status = useLoaded(() => fetchStatus(t("admin.status.timeout")), []);
  const data = status.data;
  const down = data?.components.filter((c) => c.state === "down").length ?? 0;
  return (
    <section className="admin-page">
      <PageHead title={t("admin.status.title")} intro={t("admin.status.intro")}>
        <button type="button" onClick={status.reload} disabled={status.loading}>
          {status.loading ? t("admin.status.checking") : t("admin.status.check")}
        </button>
      </PageHead>
      {status.error ? (
        <LoadError error={status.error} onRetry={status.reload} />
      ) : !data ? (
        <Loading label={t("admin.status.checking")} />
      ) : (
        <>
          <p className={`admin-summary ${down ? "admin-summary-bad" : "admin-summary-ok"}`} role="status" aria-busy={status.loading || undefined}>
            {down ? t("admin.status.some_down", { count: down }) : t("admin.status.all_ok")}{" "}
            <span className="muted small">{t("admin.status.checked", { when: when(data.checked_at, lang) })}</span>
          </p>
          <ul className="admin-health">
            {data.components.map((c) => (
              <Item key={`${c.component}-${c.instance ?? ""}`} c={c} />
            ))}
          </ul>
          <p className="muted small">{t("admin.status.bound", { seconds: data.timeout_seconds })}</p>
        </>
      )}
    </section>
  );
}

function Item({ c }: { c: Component }) {
  const { t } = useI18n();
  const name = t(`admin.status.c.${c.component}` as Key) + (c.instance ? ` (${c.instance})` : "");
  return (
    <li className={`admin-health-item admin-state-${c.state}`}>
      <div className="admin-health-head">
        <h2>{name}</h2>
        <span className={`badge admin-badge-${c.state}`}>{t(`admin.status.state.${c.state}` as Key)}</span>
      </div>
      <p className="muted small">{t(`admin.status.what.${c.component}` as Key)}</p>
      {c.detail && (
        <p className="small">
          {c.detail}
          {c.latency_ms != null && <span className="muted"> · {t("admin.status.latency", { ms: c.latency_ms })}</span>}
        </p>
      )}
      {c.state === "down" && <p className="small admin-impact">{t(`admin.status.impact.${c.component}` as Key)}</p>}
    </li>
  );
}
