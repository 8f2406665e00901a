// The audit log: search with filters (activity, user, target, outcome, time range), page
// through the results (oldest first, as the API pages them) and export every match as JSON
// Lines (downloaded). Each record opens to show its details; a change with "before" and
// "after" (policies) lists what changed.
import { useState, type FormEvent } from "react";
import { api, ApiError, problemOf, queryString, type Schemas } from "../api/client";
import { useI18n, type Key } from "../i18n";
import { when } from "../lib/format";
import { useStepUp } from "./stepup";
import { asApiError, fieldErrors, LoadError, Loading, PageHead, problemText, useLoaded } from "./ui";

type Query = NonNullable<NonNullable<Parameters<typeof api.get<"/api/admin/audit">>[1]>["query"]>;
type Record_ = Schemas["AuditRecordPublic"];
type Outcome = "" | "success" | "denied" | "failed";

interface Filters {
  action: string;
  actor: string;
  target: string;
  outcome: Outcome;
  since: string; // datetime-local, the reader's time zone
  until: string;
}

/** Activity prefixes worth suggesting (the API takes an exact action or a prefix ending in "."). */
const SUGGESTED = ["policy.update", "policy.", "user.", "auth.", "audit.", "group.", "session.", "file.", "meeting.", "team."];
const PAGE_SIZES = [50, 100, 200] as const;

function localInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function initialFilters(): Filters {
  return { action: "", actor: "", target: "", outcome: "", since: localInput(new Date(Date.now() - 24 * 3600 * 1000)), until: "" };
}

function toQuery(f: Filters, limit: number): Query {
  const iso = (s: string) => (s ? new Date(s).toISOString() : undefined);
  return {
    action: f.action.trim() || undefined,
    actor: f.actor.trim() || undefined,
    target: f.target.trim() || undefined,
    outcome: f.outcome || undefined,
    since: iso(f.since),
    until: iso(f.until),
    limit,
  };
}

export function AuditLog() {
  const { t } = useI18n();
  const guard = useStepUp();
  const [filters, setFilters] = useState<Filters>(initialFilters);
  const [limit, setLimit] = useState<number>(PAGE_SIZES[0]);
  const [query, setQuery] = useState<Query>(() => toQuery(initialFilters(), PAGE_SIZES[0]));
  // the cursor of each page shown so far: the last one is the current page
  const [cursors, setCursors] = useState<(number | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const page = useLoaded(
    () => api.get("/api/admin/audit", { query: { ...query, after_seq: cursor ?? undefined } }),
    [query, cursor],
  );
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<ApiError | null>(null);
  const errors = fieldErrors(page.error);

  // a new query object each time: searching again with the same filters loads again
  const search = (e?: FormEvent) => {
    e?.preventDefault();
    setQuery(toQuery(filters, limit));
    setCursors([null]);
  };

  const download = async () => {
    setExporting(true);
    setExportError(null);
    try {
      const { limit: _limit, ...rest } = query;
      const url = "/api/admin/audit/export" + queryString(rest);
      const res = await guard(async () => {
        const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/x-ndjson" } });
        if (!r.ok) throw await problemOf(r);
        return r;
      });
      const blob = await res.blob();
      const href = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = href;
      a.download = `audit-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}.jsonl`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60_000);
    } catch (err) {
      setExportError(asApiError(err));
    } finally {
      setExporting(false);
    }
  };

  const field = (name: "action" | "actor" | "target", label: Key, hint?: Key) => (
    <div className="admin-field">
      <label htmlFor={`audit-${name}`}>{t(label)}</label>
      <input
        id={`audit-${name}`}
        value={filters[name]}
        list={name === "action" ? "admin-audit-actions" : undefined}
        aria-describedby={[hint && `audit-${name}-hint`, errors[name] && `audit-${name}-error`].filter(Boolean).join(" ") || undefined}
        aria-invalid={errors[name] ? true : undefined}
        onChange={(e) => setFilters({ ...filters, [name]: e.target.value })}
      />
      {hint && (
        <span className="muted small admin-help" id={`audit-${name}-hint`}>
          {t(hint)}
        </span>
      )}
      {errors[name] && (
        <span className="admin-field-error" id={`audit-${name}-error`}>
          {errors[name]}
        </span>
      )}
    </div>
  );

  const records = page.data?.records ?? [];
  const first = (cursors.length - 1) * (query.limit ?? PAGE_SIZES[0]) + 1;
  return (
    <section className="admin-page">
      <PageHead title={t("admin.audit.title")} intro={t("admin.audit.intro")}>
        <button type="button" onClick={() => void download()} disabled={exporting}>
          {exporting ? t("admin.audit.exporting") : t("admin.audit.export")}
        </button>
      </PageHead>
      {exportError && (
        <p className="error" role="alert">
          {t("admin.audit.export_failed", { reason: problemText(t, exportError) })}
        </p>
      )}
      <form className="admin-audit-filters" role="search" aria-label={t("admin.audit.filters")} onSubmit={search} noValidate>
        {field("action", "admin.audit.f.action", "admin.audit.f.action_hint")}
        <datalist id="admin-audit-actions">
          {SUGGESTED.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
        {field("actor", "admin.audit.f.actor", "admin.audit.f.actor_hint")}
        {field("target", "admin.audit.f.target")}
        <label>
          {t("admin.audit.f.outcome")}
          <select value={filters.outcome} onChange={(e) => setFilters({ ...filters, outcome: e.target.value as Outcome })}>
            <option value="">{t("admin.audit.outcome.any")}</option>
            <option value="success">{t("admin.audit.outcome.success")}</option>
            <option value="denied">{t("admin.audit.outcome.denied")}</option>
            <option value="failed">{t("admin.audit.outcome.failed")}</option>
          </select>
        </label>
        <label>
          {t("admin.audit.f.since")}
          <input type="datetime-local" value={filters.since} onChange={(e) => setFilters({ ...filters, since: e.target.value })} />
        </label>
        <label>
          {t("admin.audit.f.until")}
          <input type="datetime-local" value={filters.until} onChange={(e) => setFilters({ ...filters, until: e.target.value })} />
        </label>
        <label>
          {t("admin.audit.f.page_size")}
          <select value={limit} onChange={(e) => setLimit(Number(e.target.value))}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <div className="row admin-form-actions">
          <button className="primary">{t("admin.audit.search")}</button>
          <button
            type="button"
            onClick={() => {
              const f = initialFilters();
              setFilters(f);
              setQuery(toQuery(f, limit));
              setCursors([null]);
            }}
          >
            {t("admin.audit.clear")}
          </button>
        </div>
      </form>
      {page.error ? (
        <LoadError error={page.error} onRetry={page.reload} />
      ) : page.loading && !page.data ? (
        <Loading label={t("admin.audit.loading")} />
      ) : records.length === 0 ? (
        <p className="empty">{t("admin.audit.none")}</p>
      ) : (
        <>
          <p className="muted small" role="status" aria-busy={page.loading || undefined}>
            {t("admin.audit.showing", { from: first, to: first + records.length - 1 })}
          </p>
          <div className="admin-table-wrap">
            <table className="admin-table admin-audit-table">
              <thead>
                <tr>
                  <th scope="col">{t("admin.audit.col.when")}</th>
                  <th scope="col">{t("admin.audit.col.action")}</th>
                  <th scope="col" className="admin-wide">
                    {t("admin.audit.col.actor")}
                  </th>
                  <th scope="col" className="admin-wide">
                    {t("admin.audit.col.target")}
                  </th>
                  <th scope="col">{t("admin.audit.col.outcome")}</th>
                  <th scope="col">
                    <span className="sr-only">{t("admin.audit.col.details")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {records.map((r) => (
                  <Row key={r.id} r={r} />
                ))}
              </tbody>
            </table>
          </div>
          <nav className="row admin-pager" aria-label={t("admin.audit.pages")}>
            <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              {t("admin.audit.prev")}
            </button>
            <button
              type="button"
              disabled={page.data?.next_after_seq == null}
              onClick={() => page.data?.next_after_seq != null && setCursors([...cursors, page.data.next_after_seq])}
            >
              {t("admin.audit.next")}
            </button>
          </nav>
        </>
      )}
    </section>
  );
}

function Outcome({ value }: { value: string }) {
  const { t } = useI18n();
  const known = ["success", "denied", "failed"].includes(value);
  return <span className={`badge admin-outcome-${value}`}>{known ? t(`admin.audit.outcome.${value}` as Key) : value}</span>;
}

function Row({ r }: { r: Record_ }) {
  const { t, lang } = useI18n();
  const [open, setOpen] = useState(false);
  const id = `audit-${r.id}`;
  const target = [r.target_type, r.target_id].filter(Boolean).join(" ");
  return (
    <>
      <tr>
        <td>
          <time dateTime={r.at}>{when(r.at, lang)}</time>
        </td>
        <td>
          <code>{r.action}</code>
        </td>
        <td className="admin-wide admin-break">{r.actor_label}</td>
        <td className="admin-wide admin-break">{target || "—"}</td>
        <td>
          <Outcome value={r.outcome} />
        </td>
        <td>
          <button type="button" className="link" aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)}>
            {open ? t("admin.audit.hide") : t("admin.audit.show")}
            <span className="sr-only"> {t("admin.audit.record", { action: r.action, seq: r.seq })}</span>
          </button>
        </td>
      </tr>
      <tr id={id} hidden={!open} className="admin-audit-details">
        <td colSpan={6}>{open && <Details r={r} />}</td>
      </tr>
    </>
  );
}

type Change = [path: string, before: unknown, after: unknown];

/** The leaves that differ between two JSON values, as dotted paths. */
function changes(before: unknown, after: unknown, path = ""): Change[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) => changes(before[k], after[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [[path, before, after]];
}

function Details({ r }: { r: Record_ }) {
  const { t, lang } = useI18n();
  const d = r.details as Record<string, unknown>;
  const diff = "before" in d && "after" in d ? changes(d.before, d.after) : null;
  const show = (v: unknown) => (v === undefined ? "—" : JSON.stringify(v));
  return (
    <div className="admin-record">
      {diff && (
        <>
          <h3>{t("admin.audit.changes")}</h3>
          {diff.length === 0 ? (
            <p className="muted">{t("admin.audit.no_changes")}</p>
          ) : (
            <ul className="admin-changes">
              {diff.map(([p, a, b]) => (
                <li key={p}>
                  <code>{p}</code>: <span className="admin-before">{show(a)}</span> → <span className="admin-after">{show(b)}</span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      <dl className="admin-facts">
        <dt>{t("admin.audit.col.when")}</dt>
        <dd>{new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "long" }).format(new Date(r.at))}</dd>
        <dt>{t("admin.audit.col.actor")}</dt>
        <dd className="admin-break">
          {r.actor_label} ({r.actor_type})
        </dd>
        <dt>{t("admin.audit.col.target")}</dt>
        <dd className="admin-break">{[r.target_type, r.target_id].filter(Boolean).join(" ") || "—"}</dd>
        <dt>{t("admin.audit.ip")}</dt>
        <dd>{r.ip ?? "—"}</dd>
        <dt>{t("admin.audit.agent")}</dt>
        <dd className="admin-break">{r.user_agent ?? "—"}</dd>
        <dt>{t("admin.audit.request")}</dt>
        <dd>{r.request_id ?? "—"}</dd>
        <dt>{t("admin.audit.seq")}</dt>
        <dd>{r.seq}</dd>
      </dl>
      <h3>{t("admin.audit.raw")}</h3>
      <pre className="admin-json" tabIndex={0} aria-label={t("admin.audit.raw")}>
        {JSON.stringify(r.details, null, 2)}
      </pre>
    </div>
  );
}
