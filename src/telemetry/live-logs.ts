// Live logs: a follower (isobox logs --follow, the API's server-sent events) sees a function's
// log lines as the guest writes them, whichever node ran the code. Lines travel by NOTIFY, and
// only for functions someone follows: a node that serves a follower announces it every few
// seconds, and nodes publish a function's lines only while such an announcement is fresh, so
// nobody following costs nothing.
import type { Db } from "../db/connect.ts";

export const LOGS_CHANNEL = "logs";
export const FOLLOW_CHANNEL = "logs_follow";

export interface LiveLine {
  runId: string;
  function: string;
  time: string;
  level: string;
  message: string;
  fields?: Record<string, unknown>;
}

type Listener = (line: LiveLine) => void;

/** NOTIFY payloads must stay under 8,000 bytes. */
const MAX_PAYLOAD = 7000;
const MAX_MESSAGE = 1500;
/** Fields whose JSON is longer travel without them (the stored run keeps them). */
const MAX_FIELDS = 1500;
const FLUSH_MS = 100;
const ANNOUNCE_MS = 5000;
const FOLLOW_TTL_MS = 15_000;

export class LiveLogs {
  private readonly db: Db;
  /** Local followers by "tenant/function". */
  private readonly listeners = new Map<string, Set<Listener>>();
  /** Functions followed anywhere, until when. */
  private readonly followed = new Map<string, number>();
  private pending: { key: string; line: LiveLine }[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private announceTimer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>)[] = [];
  private readonly closing = new AbortController();
  /** Aborted at stop(): followers' streams end, so a shutdown does not wait for them. */
  readonly closed: AbortSignal = this.closing.signal;

  constructor(db: Db) {
    this.db = db;
  }

  async start(): Promise<void> {
    this.unlisten.push(await this.db.listen(FOLLOW_CHANNEL, (key) => this.followed.set(key, Date.now() + FOLLOW_TTL_MS)));
    this.unlisten.push(await this.db.listen(LOGS_CHANNEL, (payload) => this.deliver(payload)));
    this.announceTimer = setInterval(() => void this.announce(), ANNOUNCE_MS);
    this.announceTimer.unref();
  }

  async stop(): Promise<void> {
    this.closing.abort();
    clearInterval(this.announceTimer);
    clearTimeout(this.flushTimer);
    await Promise.allSettled(this.unlisten.map((unlisten) => unlisten()));
  }

  /** A guest wrote a line: sent on only when someone follows the function. */
  publish(tenant: string, fn: string, line: Omit<LiveLine, "function">): void {
    const key = `${tenant}/${fn}`;
    const until = this.followed.get(key);
    if (until === undefined) return;
    if (until < Date.now()) {
      this.followed.delete(key);
      return;
    }
    const { fields, ...rest } = line;
    const small = fields && JSON.stringify(fields).length <= MAX_FIELDS ? { fields } : {};
    this.pending.push({ key, line: { ...rest, ...small, function: fn, message: line.message.slice(0, MAX_MESSAGE) } });
    this.flushTimer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Follows a function's lines; returns the unsubscribe function. */
  async follow(tenant: string, fn: string, listener: Listener): Promise<() => void> {
    const key = `${tenant}/${fn}`;
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, set = new Set());
    set.add(listener);
    // This node publishes at once; the others when the announcement reaches them.
    this.followed.set(key, Date.now() + FOLLOW_TTL_MS);
    await this.db.notify(FOLLOW_CHANNEL, key);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(key);
    };
  }

  private async announce(): Promise<void> {
    for (const key of this.listeners.keys()) await this.db.notify(FOLLOW_CHANNEL, key).catch(() => {});
  }

  private async flush(): Promise<void> {
    this.flushTimer = undefined;
    const batch = this.pending.splice(0);
    const byKey = new Map<string, LiveLine[]>();
    for (const { key, line } of batch) {
      const lines = byKey.get(key);
      if (lines) lines.push(line);
      else byKey.set(key, [line]);
    }
    for (const [key, lines] of byKey) {
      let chunk: LiveLine[] = [];
      let size = 0;
      const send = async () => {
        if (chunk.length > 0) await this.db.notify(LOGS_CHANNEL, JSON.stringify({ key, lines: chunk })).catch(() => {});
        chunk = [];
        size = 0;
      };
      for (const line of lines) {
        const bytes = Buffer.byteLength(JSON.stringify(line));
        if (size + bytes > MAX_PAYLOAD) await send();
        if (bytes <= MAX_PAYLOAD) {
          chunk.push(line);
          size += bytes;
        }
      }
      await send();
    }
  }

  private deliver(payload: string): void {
    let parsed: { key: string; lines: LiveLine[] };
    try {
      parsed = JSON.parse(payload);
    } catch {
      return;
    }
    const set = this.listeners.get(parsed.key);
    if (!set) return;
    for (const line of parsed.lines) for (const listener of set) listener(line);
  }
}
