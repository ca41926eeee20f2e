// The console's JSON API (console/token_api.h): POST /api/v1/TokenService/<Rpc>
// with the request message as JSON (proto field names), the response message
// back. Every POST carries the CSRF token from GET /api/session.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

export interface Session {
  user: string;
  csrf_token: string;
}

export interface Catalog {
  rest: string[];
  rest_excluded: string[];
  npm: string[];
  max_expiration_days: number;
  max_resource_links: number;
}

export type TokenKind = "TOKEN_KIND_REST_API" | "TOKEN_KIND_NPM_REGISTRY";

export interface Plan {
  id: string;
  name: string;
  tier: string;
  admin_user_ids: string[];
}

export interface TokenResource {
  kind: string;
  id: string;
  link: string;
}

export interface Token {
  id: string;
  plan_id: string;
  kind: TokenKind;
  name: string;
  description: string;
  scopes: string[];
  all_resources: boolean;
  resources: TokenResource[];
  status: string;
  created_by: string;
  create_time?: string;
  expire_time?: string;
  lifetime_days: number;
  revoke_time?: string;
  revoked_by: string;
  last_refresh_time?: string;
  last_used_time?: string;
  last_used_ip: string;
}

export interface AuditEvent {
  id: string;
  token_id: string;
  actor: string;
  action: string;
  time?: string;
  details_json: string;
}

export interface LinkCheck {
  valid: boolean;
  message?: string;
  resource_kind?: string;
  id?: string;
  canonical?: string;
}

let csrfToken = "";

async function parse(res: Response): Promise<unknown> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
    throw new ApiError(res.status, e?.code ?? "UNKNOWN", e?.message ?? `HTTP ${res.status}`, e?.field ?? "");
  }
  return body;
}

export async function getSession(): Promise<Session> {
  const res = await fetch("/api/session", { credentials: "same-origin", cache: "no-store" });
  const s = (await parse(res)) as Session;
  csrfToken = s.csrf_token;
  return s;
}

export async function getCatalog(): Promise<Catalog> {
  const res = await fetch("/api/scopes", { credentials: "same-origin", cache: "no-store" });
  return (await parse(res)) as Catalog;
}

async function post(path: string, body: unknown): Promise<unknown> {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { "Content-Type": "application/json", "X-Pat-Csrf": csrfToken },
    body: JSON.stringify(body),
  });
  return parse(res);
}

export function rpc<T>(method: string, request: unknown): Promise<T> {
  return post(`/api/v1/TokenService/${method}`, request) as Promise<T>;
}

export function validateLink(kind: TokenKind, planId: string, link: string): Promise<LinkCheck> {
  return post("/api/links:validate", { kind, plan_id: planId, link }) as Promise<LinkCheck>;
}

// An idempotency key for CreateToken/RefreshToken ([A-Za-z0-9._:-]).
export function requestId(): string {
  return crypto.randomUUID();
}
