// Console sessions: a random cookie value, stored only as its SHA-256 with the SHA-256 of the token
// that signed in, in Postgres so that every node knows it. A session ends when it is idle too long,
// on sign-out, or when its token stops working (a revoked key, a changed admin token).
import { randomBytes } from "node:crypto";
import { and, eq, gt, lt } from "drizzle-orm";
import { consoleSessions } from "../../schema/tables.ts";
import type { Db } from "../db/connect.ts";
import { sha256Hex } from "../tenancy/secret-compare.ts";
import type { Authenticator, Principal } from "../http/auth.ts";

export const SESSION_COOKIE = "isobox_session";

/** A signed-out session stops working on other nodes within this time. */
const CACHE_MS = 5_000;
const CACHE_MAX = 10_000;
/** last_seen_at is written at most this often per session. */
const TOUCH_MS = 60_000;

interface Known {
  tokenHash: string;
  checked: number;
  touched: number;
}

export class ConsoleSessions {
  private readonly cache = new Map<string, Known>();
  private readonly db: Db;
  private readonly auth: Authenticator;
  private readonly idleMs: number;

  constructor(db: Db, auth: Authenticator, idleMs: number) {
    this.db = db;
    this.auth = auth;
    this.idleMs = idleMs;
  }

  /** A new session for `token`, or undefined when the token is not a valid credential. */
  async open(token: string): Promise<{ cookie: string; principal: Principal } | undefined> {
    const tokenHash = sha256Hex(token);
    const principal = await this.auth.principalOfHash(tokenHash);
    if (!principal) return undefined;
    const cookie = randomBytes(32).toString("base64url");
    await this.db.orm.insert(consoleSessions).values({ idHash: sha256Hex(cookie), tokenHash });
    return { cookie, principal };
  }

  /** The principal of a live session's cookie value, or undefined. */
  async principal(cookie: string): Promise<Principal | undefined> {
    const tokenHash = await this.tokenHashOf(cookie);
    return tokenHash === undefined ? undefined : this.auth.principalOfHash(tokenHash);
  }

  async close(cookie: string): Promise<void> {
    const idHash = sha256Hex(cookie);
    this.cache.delete(idHash);
    await this.db.orm.delete(consoleSessions).where(eq(consoleSessions.idHash, idHash));
  }

  /** Deletes the sessions idle past the expiry (housekeeping). */
  async prune(): Promise<void> {
    await this.db.orm.delete(consoleSessions).where(lt(consoleSessions.lastSeenAt, new Date(Date.now() - this.idleMs)));
  }

  private async tokenHashOf(cookie: string): Promise<string | undefined> {
    const idHash = sha256Hex(cookie);
    const now = Date.now();
    const known = this.cache.get(idHash);
    // Never trusted from memory past the idle expiry: a short expiry shortens the cache too.
    if (known && now - known.checked < Math.min(CACHE_MS, this.idleMs / 2)) return known.tokenHash;
    const live = and(eq(consoleSessions.idHash, idHash), gt(consoleSessions.lastSeenAt, new Date(now - this.idleMs)));
    const touch = !known || now - known.touched >= Math.min(TOUCH_MS, this.idleMs / 4);
    const [row] = touch
      ? await this.db.orm.update(consoleSessions).set({ lastSeenAt: new Date(now) }).where(live).returning({ tokenHash: consoleSessions.tokenHash })
      : await this.db.orm.select({ tokenHash: consoleSessions.tokenHash }).from(consoleSessions).where(live);
    if (!row) {
      this.cache.delete(idHash);
      return undefined;
    }
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(idHash, { tokenHash: row.tokenHash, checked: now, touched: touch ? now : known!.touched });
    return row.tokenHash;
  }
}

/**
 * A request's Cookie header without the console's session: what a function sees of it (the cookie
 * is sent on every path of the node, /fn included, and must never reach tenant code).
 */
export function withoutSessionCookie(header: string): string {
  return header.split(";").filter((pair) => pair.split("=", 1)[0].trim() !== SESSION_COOKIE).join(";").trim();
}
