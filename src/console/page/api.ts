// The console's one way to the server: the documented /api and /console/session, authenticated by
// the session cookie (same-origin fetches send it; the server refuses it from anywhere else).

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Called when a request finds the session over (401): the console shows the sign-in again. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export async function request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = json?.error ?? {};
    const { code = `HTTP_${response.status}`, message = text.slice(0, 500) || response.statusText, ...details } = error;
    if (response.status === 401 && !path.startsWith("/console/session")) onSignedOut();
    throw new ApiError(response.status, String(code), String(message), details);
  }
  return json as T;
}

export const api = {
  get: <T = any>(path: string) => request<T>("GET", `/api${path}`),
  post: <T = any>(path: string, body: unknown = {}) => request<T>("POST", `/api${path}`, body),
  put: <T = any>(path: string, body: unknown) => request<T>("PUT", `/api${path}`, body),
  patch: <T = any>(path: string, body: unknown) => request<T>("PATCH", `/api${path}`, body),
  delete: <T = any>(path: string) => request<T>("DELETE", `/api${path}`),
};

export type Principal = { kind: "admin" } | { kind: "tenant"; tenant: string };

export async function currentSession(): Promise<Principal | undefined> {
  try {
    return (await request<{ principal: Principal }>("GET", "/console/session")).principal;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined;
    throw error;
  }
}

export const signIn = (token: string) => request("POST", "/console/session", { token });
export const signOut = () => request("DELETE", "/console/session");

/** A path segment of the API, escaped. */
export const seg = (value: string) => encodeURIComponent(value);

/** A query string of the set values. */
export function query(values: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : "";
}
