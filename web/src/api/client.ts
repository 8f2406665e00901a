// A small typed fetch wrapper over the generated OpenAPI types (schema.d.ts, made by
// `make api-client`). Every call goes to this origin; errors come back as ApiError with
// the problem+json fields (RFC 9457).
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
type Method = "get" | "post" | "put" | "patch" | "delete";
type Op<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Json<C> = C extends { content: { "application/json": infer T } } ? T : undefined;
type Answer<O> = O extends { responses: infer R }
  ? 200 extends keyof R
    ? Json<R[200]>
    : 201 extends keyof R
      ? Json<R[201]>
      : undefined
  : never;
type Body<O> = O extends { requestBody: { content: { "application/json": infer B } } }
  ? B
  : O extends { requestBody?: { content: { "application/json": infer B } } }
    ? B
    : never;
type PathParams<O> = O extends { parameters: { path: infer P } } ? P : never;
type QueryParams<O> = O extends { parameters: { query?: infer Q } } ? Q : never;

export interface Options<O> {
  path?: PathParams<O>;
  query?: QueryParams<O>;
  body?: Body<O>;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** A problem+json answer (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly problem: Record<string, unknown> = {},
  ) {
    super(detail || title);
  }
}

let csrfToken: string | null = null;

/** The session's token for X-CSRF-Token (from sign-in, or from GET /me after a reload). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function fillPath(template: string, params: object | undefined): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = (params as Record<string, unknown> | undefined)?.[name];
    if (value === undefined) throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}

export function queryString(query: object | undefined): string {
  if (!query) return "";
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

export async function problemOf(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    /* not JSON: keep the status line */
  }
  const title = typeof body.title === "string" ? body.title : res.statusText;
  const detail = typeof body.detail === "string" ? body.detail : "";
  return new ApiError(res.status, title, detail, body);
}

/** Headers every unsafe call needs with a cookie session. */
export function unsafeHeaders(): Record<string, string> {
  return csrfToken ? { "X-CSRF-Token": csrfToken } : {};
}

export async function call<P extends keyof paths, M extends Method>(
  method: M,
  path: P,
  options: Options<Op<P, M>> = {},
): Promise<Answer<Op<P, M>>> {
  const url = fillPath(path as string, options.path) + queryString(options.query as object);
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  if (method !== "get") Object.assign(headers, unsafeHeaders());
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, {
      method: method.toUpperCase(),
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "offline", "");
  }
  if (!res.ok) throw await problemOf(res);
  if (res.status === 204) return undefined as Answer<Op<P, M>>;
  return (await res.json()) as Answer<Op<P, M>>;
}

export const api = {
  get: <P extends keyof paths>(path: P, o?: Options<Op<P, "get">>) => call("get", path, o),
  post: <P extends keyof paths>(path: P, o?: Options<Op<P, "post">>) => call("post", path, o),
  put: <P extends keyof paths>(path: P, o?: Options<Op<P, "put">>) => call("put", path, o),
  patch: <P extends keyof paths>(path: P, o?: Options<Op<P, "patch">>) => call("patch", path, o),
  del: <P extends keyof paths>(path: P, o?: Options<Op<P, "delete">>) => call("delete", path, o),
};
