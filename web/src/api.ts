// The REST client, the site configuration and sign-in (development token or Cognito PKCE).

export interface SiteConfig {
  apiUrl: string;
  webSocketUrl: string;
  auth?: "dev" | "cognito";
  devTokenUrl?: string;
  cognitoDomain?: string;
  userPoolClientId?: string;
  redirectUri?: string;
  scopes?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: any,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "agentic-mlops.token";
let config: SiteConfig | null = null;

export async function loadConfig(): Promise<SiteConfig> {
  const response = await fetch("config.json", { cache: "no-cache" });
  if (!response.ok) throw new Error(`config.json could not be loaded (HTTP ${response.status})`);
  const data = (await response.json()) as SiteConfig;
  data.apiUrl = data.apiUrl.replace(/\/$/, "");
  if (!data.auth) data.auth = data.cognitoDomain ? "cognito" : "dev";
  config = data;
  return data;
}

export function siteConfig(): SiteConfig {
  if (!config) throw new Error("the configuration is not loaded");
  return config;
}

export function token(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

export function setToken(value: string | null): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function api<T = any>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(siteConfig().apiUrl + path, {
      method: init.method ?? "GET",
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  } catch (err) {
    throw new ApiError(0, "network", `the API could not be reached (${String(err)})`);
  }
  const text = await response.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error;
    const message =
      error?.message ?? data?.message ?? `the request failed (HTTP ${response.status})`;
    if (response.status === 401) setToken(null);
    throw new ApiError(response.status, error?.code ?? "http_error", message, error?.details);
  }
  return data as T;
}

// development tokens ------------------------------------------------------------------

export async function devSignIn(user: string, roles: string[]): Promise<void> {
  const url = siteConfig().devTokenUrl;
  if (!url) throw new Error("this server issues no development tokens; paste one instead");
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user, roles }),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error(data?.error?.message ?? `HTTP ${response.status}`);
  setToken(data.token);
}

// Cognito Hosted UI: authorization code with PKCE ---------------------------------------

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  const array = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let text = "";
  for (const b of array) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function redirectUri(c: SiteConfig): string {
  return c.redirectUri ?? location.origin + location.pathname;
}

export async function cognitoSignIn(): Promise<void> {
  const c = siteConfig();
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem("agentic-mlops.pkce", JSON.stringify({ verifier, state }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: c.userPoolClientId ?? "",
    redirect_uri: redirectUri(c),
    scope: c.scopes ?? "openid email profile",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`https://${c.cognitoDomain!.replace(/^https?:\/\//, "")}/oauth2/authorize?${query}`);
}

/** Finish a Hosted UI sign-in when the page is the redirect (`?code=&state=`). */
export async function completeCognitoSignIn(): Promise<boolean> {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (!code) return false;
  const c = siteConfig();
  const saved = JSON.parse(sessionStorage.getItem("agentic-mlops.pkce") ?? "{}");
  sessionStorage.removeItem("agentic-mlops.pkce");
  history.replaceState(null, "", location.pathname + location.hash);
  if (!saved.verifier || saved.state !== params.get("state")) {
    throw new Error("the sign-in answer does not match this page's request; sign in again");
  }
  const response = await fetch(`https://${c.cognitoDomain!.replace(/^https?:\/\//, "")}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: c.userPoolClientId ?? "",
      code,
      redirect_uri: redirectUri(c),
      code_verifier: saved.verifier,
    }),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok || !data?.id_token) {
    throw new Error(data?.error_description ?? data?.error ?? "the sign-in failed");
  }
  // API Gateway's Cognito authorizer reads the groups from the ID token.
  setToken(data.id_token);
  return true;
}

// formatting ---------------------------------------------------------------------------

export function money(value: number | null | undefined, currency = "USD"): string {
  if (value == null) return "—";
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(value);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}
