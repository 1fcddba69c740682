// Who is calling: the admin (the cluster's admin token) or a tenant (one of its API keys).
import type { Context, MiddlewareHandler } from "hono";
import type { Db } from "../db/connect.ts";
import { IsoboxError } from "../errors.ts";
import { sameSecret, sha256Hex } from "../tenancy/secret-compare.ts";
import { tenantOfKeyHash } from "../tenancy/tenants.ts";
import { getCookie } from "hono/cookie";
import { SESSION_COOKIE, type ConsoleSessions } from "../console/sessions.ts";
import { assertSameOrigin } from "../console/same-origin.ts";
import type { AppEnv } from "./app-env.ts";

export type Principal = { kind: "admin" } | { kind: "tenant"; tenant: string };

/** A revoked key stops working on other nodes within this time. */
const KEY_CACHE_MS = 5_000;
const KEY_CACHE_MAX = 10_000;

export class Authenticator {
  private readonly cache = new Map<string, { tenant: string | undefined; expires: number }>();
  private readonly db: Db;
  private readonly adminTokenHash: string;

  /**
   * `adminTokenHash`: the SHA-256 (hex) of the cluster's admin token, as the cluster stores it
   * (src/cluster/identity.ts): a node that joined without a token of its own knows nothing more.
   */
  constructor(db: Db, adminTokenHash: string) {
    this.db = db;
    this.adminTokenHash = adminTokenHash;
  }

  /** The principal of a request, or undefined when it carries no valid credentials. */
  async principal(authorization: string | undefined): Promise<Principal | undefined> {
    const token = bearerToken(authorization);
    return token ? this.principalOfHash(sha256Hex(token)) : undefined;
  }

  /** The principal of the token whose SHA-256 (hex) is `hash` (how console sessions keep it). */
  async principalOfHash(hash: string): Promise<Principal | undefined> {
    // Constant time: the token's hash against the cluster's.
    if (sameSecret(hash, this.adminTokenHash)) return { kind: "admin" };
    const tenant = await this.tenantOf(hash);
    return tenant ? { kind: "tenant", tenant } : undefined;
  }

  forgetKeys(): void {
    this.cache.clear();
  }

  private async tenantOf(hash: string): Promise<string | undefined> {
    const hit = this.cache.get(hash);
    if (hit && hit.expires > Date.now()) return hit.tenant;
    const tenant = await tenantOfKeyHash(this.db.orm, hash);
    if (this.cache.size >= KEY_CACHE_MAX) this.cache.clear();
    this.cache.set(hash, { tenant, expires: Date.now() + KEY_CACHE_MS });
    return tenant;
  }
}

/**
 * Requires valid credentials: a bearer token, or the console's session cookie (whose requests must
 * come from the console's own origin, see console/same-origin.ts). Stores the principal.
 */
export function requireAuth(auth: Authenticator, sessions: ConsoleSessions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const authorization = c.req.header("authorization");
    const session = authorization === undefined ? getCookie(c, SESSION_COOKIE) : undefined;
    // Checked before the session is looked up: a request from another origin costs no query.
    if (session !== undefined) assertSameOrigin(c);
    const principal = session === undefined ? await auth.principal(authorization) : await sessions.principal(session);
    if (!principal && session !== undefined) throw new IsoboxError("ERR_UNAUTHORIZED", "The console session has ended: sign in again");
    if (!principal) throw new IsoboxError("ERR_UNAUTHORIZED", "Missing or invalid credentials: send Authorization: Bearer <admin token or tenant API key>");
    c.set("principal", principal);
    await next();
  };
}

export function principalOf(c: Context<AppEnv>): Principal {
  return c.get("principal");
}

export function requireAdmin(c: Context<AppEnv>): void {
  if (principalOf(c).kind !== "admin") throw new IsoboxError("ERR_FORBIDDEN", "This needs the admin token");
}

/**
 * The one rule of who reaches a tenant, for the API and for /fn: the admin reaches every tenant;
 * a tenant key only its own.
 */
export function assertReaches(principal: Principal, tenant: string): void {
  if (principal.kind === "admin" || principal.tenant === tenant) return;
  throw new IsoboxError("ERR_FORBIDDEN", `This key does not belong to tenant ${tenant}`);
}

export function requireTenant(c: Context<AppEnv>, tenant: string): void {
  assertReaches(principalOf(c), tenant);
}

/** The route's :tenant, once the caller is known to reach it. */
export function scopedTenant(c: Context<AppEnv>): string {
  const tenant = c.req.param("tenant") ?? "";
  requireTenant(c, tenant);
  return tenant;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
}
