// Users (Microsoft 365's "Active users"): search and filter the organisation's accounts,
// add one (the server makes a one-time password, shown once), and in a user's panel block
// or unblock sign-in, reset their second factor or their password.
import { useMemo, useState, type FormEvent } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useWorkspace } from "../app/Shell";
import { useI18n, type Key } from "../i18n";
import { when } from "../lib/format";
import { navigate } from "../lib/router";
import { ADMIN_ROLES, can } from "./access";
import { useStepUp } from "./stepup";
import { asApiError, fieldErrors, LoadError, Loading, Modal, PageHead, ProblemNote, useLoaded } from "./ui";

type User = Schemas["UserPublic"];
type StatusFilter = "all" | "active" | "disabled";

export function Users({ userId }: { userId: string | null }) {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const manage = can(me.admin_roles, "users_manage");
  const users = useLoaded(() => api.get("/api/admin/users"), []);
  const [query, setQuery] = useState("");
  const [status, setStatus] = useState<StatusFilter>("all");
  const [adding, setAdding] = useState(false);

  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return (users.data ?? []).filter(
      (u) =>
        (status === "all" || u.status === status) &&
        (!q || [u.display_name, u.email, u.department ?? "", u.job_title ?? ""].some((v) => v.toLowerCase().includes(q))),
    );
  }, [users.data, query, status]);

  return (
    <section className="admin-page">
      <PageHead title={t("admin.users.title")} intro={t("admin.users.intro")}>
        {manage && (
          <button type="button" className="primary" onClick={() => setAdding(true)}>
            {t("admin.users.add")}
          </button>
        )}
        <button type="button" onClick={users.reload}>
          {t("admin.refresh")}
        </button>
      </PageHead>
      <div className="admin-filters" role="search">
        <label>
          {t("admin.users.search")}
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
        </label>
        <label>
          {t("admin.users.status_filter")}
          <select value={status} onChange={(e) => setStatus(e.target.value as StatusFilter)}>
            <option value="all">{t("admin.users.status.all")}</option>
            <option value="active">{t("admin.users.status.active")}</option>
            <option value="disabled">{t("admin.users.status.disabled")}</option>
          </select>
        </label>
      </div>
      {users.error ? (
        <LoadError error={users.error} onRetry={users.reload} />
      ) : !users.data ? (
        <Loading label={t("admin.users.loading")} />
      ) : shown.length === 0 ? (
        <p className="empty">{query || status !== "all" ? t("admin.users.no_match") : t("admin.users.none")}</p>
      ) : (
        <>
          <p className="muted small" role="status">
            {t("admin.users.count", { count: shown.length })}
          </p>
          <div className="admin-table-wrap">
            <table className="admin-table">
              <thead>
                <tr>
                  <th scope="col">{t("admin.users.col.name")}</th>
                  <th scope="col">{t("admin.users.col.email")}</th>
                  <th scope="col" className="admin-wide">
                    {t("admin.users.col.kind")}
                  </th>
                  <th scope="col" className="admin-wide">
                    {t("admin.users.col.roles")}
                  </th>
                  <th scope="col">{t("admin.users.col.status")}</th>
                  <th scope="col" className="admin-wide">
                    {t("admin.users.col.mfa")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((u) => (
                  <tr key={u.id}>
                    <td>
                      <a
                        href={`/admin/users/${u.id}`}
                        onClick={(e) => {
                          e.preventDefault();
                          navigate(`/admin/users/${u.id}`);
                        }}
                      >
                        {u.display_name}
                      </a>
                    </td>
                    <td className="admin-break">{u.email}</td>
                    <td className="admin-wide">{t(u.kind === "guest" ? "admin.users.kind.guest" : "admin.users.kind.member")}</td>
                    <td className="admin-wide">{u.admin_roles.map((r) => roleLabel(t, r)).join(", ") || "—"}</td>
                    <td>
                      <StatusBadge status={u.status} />
                    </td>
                    <td className="admin-wide">{t(u.mfa_enabled ? "admin.users.mfa.on" : "admin.users.mfa.off")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {adding && <AddUser onClose={() => setAdding(false)} onAdded={users.reload} />}
      {userId && <UserPanel key={userId} userId={userId} manage={manage} onChanged={users.reload} />}
    </section>
  );
}

function roleLabel(t: ReturnType<typeof useI18n>["t"], role: string): string {
  return (ADMIN_ROLES as readonly string[]).includes(role) ? t(`admin.role.${role}` as Key) : role;
}

function StatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  return (
    <span className={`badge admin-badge-${status}`}>
      {t(status === "disabled" ? "admin.users.status.disabled" : "admin.users.status.active")}
    </span>
  );
}

function OneTimePassword({ password, name }: { password: string; name: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <div className="admin-otp">
      <p>{t("admin.users.otp.hint", { name })}</p>
      <p className="admin-otp-row">
        <span className="muted">{t("admin.users.otp.label")}</span>{" "}
        <code className="admin-secret" data-testid="one-time-password">
          {password}
        </code>
        <button
          type="button"
          onClick={() =>
            void navigator.clipboard?.writeText(password).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {t("admin.users.otp.copy")}
        </button>
      </p>
      <p role="status" className="small muted">
        {copied ? t("admin.users.otp.copied") : ""}
      </p>
    </div>
  );
}

function AddUser({ onClose, onAdded }: { onClose: () => void; onAdded: () => void }) {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const guard = useStepUp();
  const rolesAllowed = can(me.admin_roles, "roles_assign");
  const empty = { display_name: "", email: "", kind: "member" as "member" | "guest", department: "", job_title: "" };
  const [form, setForm] = useState(empty);
  const [roles, setRoles] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [created, setCreated] = useState<Schemas["UserCreated"] | null>(null);
  const errors = fieldErrors(error);
  if (error?.status === 409) errors.email ??= error.detail;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const out = await guard(() =>
        api.post("/api/admin/users", {
          body: {
            display_name: form.display_name.trim(),
            email: form.email.trim(),
            kind: form.kind,
            department: form.department.trim() || null,
            job_title: form.job_title.trim() || null,
            admin_roles: roles as Schemas["UserCreate"]["admin_roles"],
          },
        }),
      );
      setCreated(out);
      onAdded();
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const text = (name: "display_name" | "email" | "department" | "job_title", label: Key, required = false, type = "text") => (
    <div className="admin-field">
      <label htmlFor={`add-${name}`}>
        {t(label)}
        {required && <span aria-hidden="true"> *</span>}
      </label>
      <input
        id={`add-${name}`}
        type={type}
        required={required}
        value={form[name]}
        aria-invalid={errors[name] ? true : undefined}
        aria-describedby={errors[name] ? `add-${name}-error` : undefined}
        onChange={(e) => setForm({ ...form, [name]: e.target.value })}
      />
      {errors[name] && (
        <span className="admin-field-error" id={`add-${name}-error`}>
          {errors[name]}
        </span>
      )}
    </div>
  );

  return (
    <Modal title={t("admin.users.add_title")} onClose={onClose}>
      {created ? (
        <div className="admin-created">
          <p role="status">{t("admin.users.added", { name: created.user.display_name })}</p>
          {created.one_time_password && <OneTimePassword password={created.one_time_password} name={created.user.display_name} />}
          <div className="row admin-form-actions">
            <button
              type="button"
              onClick={() => {
                setCreated(null);
                setForm(empty);
                setRoles([]);
              }}
            >
              {t("admin.users.add_another")}
            </button>
            <button type="button" className="primary" onClick={onClose}>
              {t("action.close")}
            </button>
          </div>
        </div>
      ) : (
        <form onSubmit={(e) => void submit(e)} noValidate>
          <p className="muted small">{t("admin.users.add_hint")}</p>
          {text("display_name", "admin.users.field.display_name", true)}
          {text("email", "admin.users.field.email", true, "email")}
          <label>
            {t("admin.users.field.kind")}
            <select value={form.kind} onChange={(e) => setForm({ ...form, kind: e.target.value as "member" | "guest" })}>
              <option value="member">{t("admin.users.kind.member")}</option>
              <option value="guest">{t("admin.users.kind.guest")}</option>
            </select>
          </label>
          {text("department", "admin.users.field.department")}
          {text("job_title", "admin.users.field.job_title")}
          {rolesAllowed && (
            <fieldset className="admin-fieldset">
              <legend>{t("admin.users.field.roles")}</legend>
              {ADMIN_ROLES.map((r) => (
                <label key={r} className="check">
                  <input
                    type="checkbox"
                    checked={roles.includes(r)}
                    onChange={(e) => setRoles(e.target.checked ? [...roles, r] : roles.filter((x) => x !== r))}
                  />
                  {roleLabel(t, r)}
                </label>
              ))}
            </fieldset>
          )}
          {error && !Object.keys(errors).length && <ProblemNote error={error} />}
          {error && Object.keys(errors).length > 0 && (
            <p className="error" role="alert">
              {t("admin.users.not_added")}
            </p>
          )}
          <div className="row admin-form-actions">
            <button className="primary" disabled={busy}>
              {busy ? t("state.working") : t("admin.users.add_submit")}
            </button>
            <button type="button" onClick={onClose}>
              {t("action.cancel")}
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}

type Confirm = "disable" | "enable" | "reset_mfa" | "reset_password";

function UserPanel({ userId, manage, onChanged }: { userId: string; manage: boolean; onChanged: () => void }) {
  const { t, lang } = useI18n();
  const { me } = useWorkspace();
  const guard = useStepUp();
  const loaded = useLoaded(() => api.get("/api/admin/users/{user_id}", { path: { user_id: userId } }), [userId]);
  const [user, setUser] = useState<User | null>(null);
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [password, setPassword] = useState<string | null>(null);
  const u = user ?? loaded.data;
  const close = () => navigate("/admin/users");

  const act = async (what: Confirm) => {
    setBusy(true);
    setError(null);
    setDone(null);
    const path = { user_id: userId };
    try {
      if (what === "disable") setUser(await guard(() => api.post("/api/admin/users/{user_id}/disable", { path })));
      else if (what === "enable") setUser(await guard(() => api.post("/api/admin/users/{user_id}/enable", { path })));
      else if (what === "reset_mfa") setUser(await guard(() => api.post("/api/admin/users/{user_id}/reset-mfa", { path })));
      else {
        const out = await guard(() => api.post("/api/admin/users/{user_id}/reset-password", { path }));
        setUser(out.user);
        setPassword(out.one_time_password ?? null);
      }
      setDone(t(`admin.users.done.${what}` as Key));
      setConfirm(null);
      onChanged();
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={u?.display_name ?? t("admin.users.details")} onClose={close}>
      {loaded.error && !u ? (
        <LoadError error={loaded.error} onRetry={loaded.reload} />
      ) : !u ? (
        <Loading label={t("state.loading")} />
      ) : (
        <div className="admin-user">
          <dl className="admin-facts">
            <dt>{t("admin.users.field.email")}</dt>
            <dd className="admin-break">{u.email}</dd>
            <dt>{t("admin.users.col.status")}</dt>
            <dd>
              <StatusBadge status={u.status} />
            </dd>
            <dt>{t("admin.users.field.kind")}</dt>
            <dd>{t(u.kind === "guest" ? "admin.users.kind.guest" : "admin.users.kind.member")}</dd>
            <dt>{t("admin.users.field.roles")}</dt>
            <dd>{u.admin_roles.map((r) => roleLabel(t, r)).join(", ") || t("admin.users.no_roles")}</dd>
            <dt>{t("admin.users.field.department")}</dt>
            <dd>{u.department || "—"}</dd>
            <dt>{t("admin.users.field.job_title")}</dt>
            <dd>{u.job_title || "—"}</dd>
            <dt>{t("admin.users.col.mfa")}</dt>
            <dd>{t(u.mfa_enabled ? "admin.users.mfa.on" : "admin.users.mfa.off")}</dd>
            <dt>{t("admin.users.created")}</dt>
            <dd>{when(u.created_at, lang)}</dd>
          </dl>
          <p role="status" className="admin-done">
            {done ?? ""}
          </p>
          {password && <OneTimePassword password={password} name={u.display_name} />}
          <ProblemNote error={error} />
          {manage && (
            <>
              <h3>{t("admin.users.actions")}</h3>
              {confirm ? (
                <div className="admin-confirm" role="group" aria-labelledby="admin-confirm-text">
                  <p id="admin-confirm-text">{t(`admin.users.confirm.${confirm}` as Key, { name: u.display_name })}</p>
                  <div className="row">
                    <button
                      type="button"
                      className={confirm === "enable" ? "primary" : "primary admin-danger"}
                      disabled={busy}
                      onClick={() => void act(confirm)}
                    >
                      {busy ? t("state.working") : t(`admin.users.action.${confirm}` as Key)}
                    </button>
                    <button type="button" onClick={() => setConfirm(null)}>
                      {t("action.cancel")}
                    </button>
                  </div>
                </div>
              ) : (
                <div className="admin-actions">
                  {u.status === "disabled" ? (
                    <button type="button" onClick={() => setConfirm("enable")}>
                      {t("admin.users.action.enable")}
                    </button>
                  ) : (
                    <button type="button" disabled={u.id === me.id} onClick={() => setConfirm("disable")}>
                      {t("admin.users.action.disable")}
                    </button>
                  )}
                  <button type="button" onClick={() => setConfirm("reset_mfa")}>
                    {t("admin.users.action.reset_mfa")}
                  </button>
                  <button type="button" onClick={() => setConfirm("reset_password")}>
                    {t("admin.users.action.reset_password")}
                  </button>
                </div>
              )}
              {u.id === me.id && <p className="muted small">{t("admin.users.self_hint")}</p>}
            </>
          )}
        </div>
      )}
    </Modal>
  );
}
