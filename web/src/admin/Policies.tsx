// One policy kind: its form (generated from the server's JSON Schema), who changed it last,
// saving (a new version; problem+json errors land next to their field) and the history.
// Compliance admins read policies; only security and global admins change them.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useWorkspace } from "../app/Shell";
import { useI18n, type Key } from "../i18n";
import { when } from "../lib/format";
import { can } from "./access";
import { SchemaForm, type JsonSchema } from "./SchemaForm";
import { useStepUp } from "./stepup";
import { asApiError, fieldErrors, LoadError, Loading, PageHead, ProblemNote, problemText, useLoaded } from "./ui";

export const POLICY_KINDS = ["meetings", "mfa", "recordings", "files", "federation", "privacy"] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

type Version = Schemas["PolicyVersion"];
type Body = Record<string, unknown>;

export function Policies({ kind }: { kind: PolicyKind }) {
  const { t, lang } = useI18n();
  const { me } = useWorkspace();
  const guard = useStepUp();
  const manage = can(me.admin_roles, "policy_manage");
  const loaded = useLoaded(
    async () => {
      const [schema, current, groups] = await Promise.all([
        api.get("/api/admin/policies/{kind}/schema", { path: { kind } }),
        api.get("/api/admin/policies/{kind}", { path: { kind } }),
        kind === "meetings" && can(me.admin_roles, "groups_read") ? api.get("/api/admin/groups") : Promise.resolve([]),
      ]);
      return { schema: schema as JsonSchema, current, groups };
    },
    [kind],
  );
  const [saved, setSaved] = useState<Version | null>(null);
  const [draft, setDraft] = useState<Body | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const form = useRef<HTMLFormElement>(null);

  useEffect(() => {
    if (loaded.data) {
      setSaved(loaded.data.current);
      setDraft(structuredClone(loaded.data.current.body));
    }
  }, [loaded.data]);

  // after a refusal, take the keyboard to the first field the server named
  useEffect(() => {
    if (error) form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [error]);

  const dirty = saved !== null && draft !== null && JSON.stringify(draft) !== JSON.stringify(saved.body);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!draft) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const out = await guard(() => api.put("/api/admin/policies/{kind}", { path: { kind }, body: draft }));
      setSaved(out);
      setDraft(structuredClone(out.body));
      setNotice(t("admin.policy.saved", { version: out.version }));
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const title = t(`admin.policy.${kind}.title` as Key);
  return (
    <section className="admin-page">
      <PageHead title={title} intro={t(`admin.policy.${kind}.intro` as Key)} />
      {loaded.error ? (
        <LoadError error={loaded.error} onRetry={loaded.reload} />
      ) : !loaded.data || !draft || !saved ? (
        <Loading label={t("admin.policy.loading")} />
      ) : (
        <>
          <p className="muted small admin-version">
            {saved.version === 0
              ? t("admin.policy.never_changed")
              : t("admin.policy.version", {
                  version: saved.version,
                  who: saved.created_by ?? "—",
                  when: saved.created_at ? when(saved.created_at, lang) : "—",
                })}
          </p>
          {!manage && <p className="admin-readonly">{t("admin.policy.read_only")}</p>}
          <form ref={form} onSubmit={(e) => void save(e)} noValidate className="admin-policy-form">
            <fieldset disabled={!manage || busy} className="admin-plain">
              <legend className="sr-only">{title}</legend>
              <SchemaForm
                schema={loaded.data.schema}
                value={draft}
                onChange={(v) => {
                  setDraft(v);
                  setNotice(null);
                }}
                errors={fieldErrors(error)}
                groups={loaded.data.groups}
              />
            </fieldset>
            {manage && (
              <div className="admin-savebar">
                {error && (
                  <p className="error" role="alert">
                    {t("admin.policy.not_saved", { reason: problemText(t, error) })}
                  </p>
                )}
                <p role="status" className={notice ? "admin-done" : "muted small"}>
                  {notice ?? (dirty ? t("admin.policy.unsaved") : "")}
                </p>
                <div className="row">
                  <button className="primary" disabled={busy || !dirty}>
                    {busy ? t("state.working") : t("action.save")}
                  </button>
                  <button
                    type="button"
                    disabled={busy || !dirty}
                    onClick={() => {
                      setDraft(structuredClone(saved.body));
                      setError(null);
                    }}
                  >
                    {t("admin.policy.discard")}
                  </button>
                </div>
              </div>
            )}
          </form>
          <History kind={kind} version={saved.version} />
        </>
      )}
    </section>
  );
}

/** Every version of the policy: who saved it and when (loaded when opened). */
function History({ kind, version }: { kind: PolicyKind; version: number }) {
  const { t, lang } = useI18n();
  const guard = useStepUp();
  const [open, setOpen] = useState(false);
  const [rows, setRows] = useState<Version[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    if (!open) return;
    let live = true;
    setError(null);
    guard(() => api.get("/api/admin/policies/{kind}/history", { path: { kind } })).then(
      (r) => live && setRows([...r].reverse()),
      (e: unknown) => live && setError(asApiError(e)),
    );
    return () => {
      live = false;
    };
  }, [open, kind, version, guard]);
  return (
    <details className="admin-history" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{t("admin.policy.history")}</summary>
      {error ? (
        <ProblemNote error={error} />
      ) : !rows ? (
        <Loading label={t("state.loading")} />
      ) : rows.length === 0 ? (
        <p className="muted">{t("admin.policy.no_history")}</p>
      ) : (
        <ol className="admin-history-list">
          {rows.map((r) => (
            <li key={r.version}>
              {t("admin.policy.version", {
                version: r.version,
                who: r.created_by ?? "—",
                when: r.created_at ? when(r.created_at, lang) : "—",
              })}
            </li>
          ))}
        </ol>
      )}
    </details>
  );
}
