// What each admin role may do, to show only the pages and buttons that can work. It mirrors
// overleg/security/authz/roles.py; the server decides every call regardless.
const GLOBAL = "global_admin";
const SECURITY = "security_admin";
const COMPLIANCE = "compliance_admin";
const USERS = "user_admin";

const RULES = {
  users_read: [GLOBAL, SECURITY, COMPLIANCE, USERS],
  users_manage: [GLOBAL, USERS],
  roles_assign: [GLOBAL],
  groups_read: [GLOBAL, SECURITY, COMPLIANCE, USERS],
  policy_read: [GLOBAL, SECURITY, COMPLIANCE],
  policy_manage: [GLOBAL, SECURITY],
  audit_read: [GLOBAL, SECURITY, COMPLIANCE],
  audit_export: [GLOBAL, SECURITY, COMPLIANCE],
  status_read: [GLOBAL, SECURITY],
} as const;

export type Capability = keyof typeof RULES;

export const ADMIN_ROLES = [GLOBAL, SECURITY, COMPLIANCE, USERS] as const;

export function can(roles: readonly string[], what: Capability): boolean {
  return (RULES[what] as readonly string[]).some((r) => roles.includes(r));
}
