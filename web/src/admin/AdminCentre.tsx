// The admin centre (/admin/...): a left sub-navigation as in Microsoft 365's admin centre,
// and one page per task: users, policies, the audit log, service health. Every page's calls
// go through the step-up guard (admin calls need a recent second factor). People without an
// admin role are told they are not allowed; the server refuses them anyway.
import { useEffect, type ReactNode } from "react";
import { useWorkspace } from "../app/Shell";
import { useI18n, type Key } from "../i18n";
import { navigate } from "../lib/router";
import { can, type Capability } from "./access";
import { AuditLog } from "./Audit";
import { POLICY_KINDS, Policies, type PolicyKind } from "./Policies";
import { ServiceHealth } from "./Status";
import { StepUpProvider } from "./stepup";
import { Users } from "./Users";
import "./admin.css";

interface Item {
  path: string;
  label: Key;
  needs: Capability;
}

const NAV: { label: Key; items: Item[] }[] = [
  { label: "admin.nav.users", items: [{ path: "users", label: "admin.nav.active_users", needs: "users_read" }] },
  {
    label: "admin.nav.policies",
    items: POLICY_KINDS.map((k) => ({ path: `policies/${k}`, label: `admin.policy.${k}.nav` as Key, needs: "policy_read" })),
  },
  { label: "admin.nav.compliance", items: [{ path: "audit", label: "admin.nav.audit", needs: "audit_read" }] },
  { label: "admin.nav.health", items: [{ path: "status", label: "admin.nav.status", needs: "status_read" }] },
];

export function AdminCentre({ path }: { path: string[] }) {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const roles = me.admin_roles;
  const allowed = NAV.map((g) => ({ ...g, items: g.items.filter((i) => can(roles, i.needs)) })).filter(
    (g) => g.items.length > 0,
  );
  const first = allowed[0]?.items[0]?.path;
  const here = path.join("/");

  // /admin and /admin/policies go to their first page
  useEffect(() => {
    if (path.length === 0 && first) navigate(`/admin/${first}`, true);
    else if (path[0] === "policies" && !POLICY_KINDS.includes(path[1] as PolicyKind)) navigate("/admin/policies/meetings", true);
  }, [path, first]);

  // on a phone the menu is a scrolling row: keep the current page's link in sight
  useEffect(() => {
    document.querySelector(".admin-nav [aria-current='page']")?.scrollIntoView({ block: "nearest", inline: "nearest" });
  }, [here]);

  if (roles.length === 0 || !first) return <NotAllowed />;

  let page: ReactNode;
  const [section, sub] = path;
  if (!section) page = null;
  else if (section === "users") page = can(roles, "users_read") ? <Users userId={sub ?? null} /> : <NotAllowed />;
  else if (section === "policies")
    page = !can(roles, "policy_read") ? (
      <NotAllowed />
    ) : POLICY_KINDS.includes(sub as PolicyKind) ? (
      <Policies key={sub} kind={sub as PolicyKind} />
    ) : null;
  else if (section === "audit") page = can(roles, "audit_read") ? <AuditLog /> : <NotAllowed />;
  else if (section === "status") page = can(roles, "status_read") ? <ServiceHealth /> : <NotAllowed />;
  else
    page = (
      <section className="admin-page">
        <h1>{t("admin.missing.title")}</h1>
        <p>{t("admin.missing.text")}</p>
      </section>
    );

  return (
    <StepUpProvider>
      <div className="admin">
        <nav className="admin-nav" aria-label={t("admin.nav.label")}>
          <p className="admin-nav-title">{t("admin.title")}</p>
          {allowed.map((g) => (
            <div key={g.label} className="admin-nav-group">
              <p className="admin-nav-group-title" id={`admin-nav-${g.label}`}>
                {t(g.label)}
              </p>
              <ul aria-labelledby={`admin-nav-${g.label}`}>
                {g.items.map((i) => {
                  const current = here === i.path || here.startsWith(`${i.path}/`);
                  return (
                    <li key={i.path}>
                      <a
                        href={`/admin/${i.path}`}
                        aria-current={current ? "page" : undefined}
                        onClick={(e) => {
                          e.preventDefault();
                          navigate(`/admin/${i.path}`);
                        }}
                      >
                        {t(i.label)}
                      </a>
                    </li>
                  );
                })}
              </ul>
            </div>
          ))}
        </nav>
        <div className="admin-main">{page}</div>
      </div>
    </StepUpProvider>
  );
}

function NotAllowed() {
  const { t } = useI18n();
  return (
    <section className="page admin-denied">
      <h1>{t("admin.denied.title")}</h1>
      <p>{t("admin.denied.text")}</p>
      <p>
        <a
          href="/"
          onClick={(e) => {
            e.preventDefault();
            navigate("/");
          }}
        >
          {t("admin.denied.back")}
        </a>
      </p>
    </section>
  );
}
