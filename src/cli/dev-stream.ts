// What `isobox dev` streams while it runs: the function's log lines as they are written (the
// logs API's event stream, from every trigger) and each run's outcome (the runs API, read twice a
// second), a failure with its error's first line on the author's file:line.
import { tenantPath, type ApiClient } from "./client.ts";
import { showFields, type LogLine } from "./output.ts";
import { serverEvents } from "./server-events.ts";

const RUNS_EVERY_MS = 500;

interface Run {
  id: string;
  trigger: string;
  status: string;
  durationMs: number;
  httpStatus?: number | null;
  error?: { code: string; message: string; stack?: string } | null;
}

/** The first frame of a stack that names a file, as file:line:column. */
export function firstPlace(stack: string | undefined): string | undefined {
  for (const line of (stack ?? "").split("\n").slice(1)) {
    const place = /\(([^()]+:\d+:\d+)\)\s*$/.exec(line)?.[1] ?? /^\s*at\s+([^\s()]+:\d+:\d+)\s*$/.exec(line)?.[1];
    if (place) return place;
  }
  return undefined;
}

export function runLine(run: Run): string {
  const took = `${Math.round(run.durationMs)} ms`;
  if (!run.error) return `run ${run.id.slice(0, 8)} ${run.trigger} ${run.status}${run.httpStatus ? ` ${run.httpStatus}` : ""} ${took}`;
  const place = firstPlace(run.error.stack);
  return `run ${run.id.slice(0, 8)} ${run.trigger} ${run.status} ${took}: ${run.error.code}: ${run.error.message.split("\n")[0]}${place ? ` (${place})` : ""}`;
}

export class DevStream {
  private readonly client: ApiClient;
  private readonly tenant: string;
  private readonly name: string;
  private readonly print: (line: string) => void;
  private readonly seen = new Set<string>();
  private readonly since = new Date();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(client: ApiClient, tenant: string, name: string, print: (line: string) => void) {
    this.client = client;
    this.tenant = tenant;
    this.name = name;
    this.print = print;
  }

  start(): void {
    void this.followLogs();
    const tick = async () => {
      await this.readRuns().catch(() => {});
      if (!this.abort.signal.aborted) this.timer = setTimeout(tick, RUNS_EVERY_MS);
    };
    void tick();
  }

  stop(): void {
    this.abort.abort();
    clearTimeout(this.timer);
  }

  private async readRuns(): Promise<void> {
    const query = new URLSearchParams({ function: this.name, since: this.since.toISOString(), limit: "50" });
    const { runs } = await this.client.request<{ runs: Run[] }>("GET", tenantPath(this.tenant, `/runs?${query}`));
    for (const run of runs.reverse()) {
      if (this.seen.has(run.id)) continue;
      this.seen.add(run.id);
      this.print(runLine(run));
    }
  }

  /** The logs event stream, opened again whenever it ends (a node restart, a dropped connection). */
  private async followLogs(): Promise<void> {
    const query = new URLSearchParams({ function: this.name, limit: "0", follow: "1" });
    while (!this.abort.signal.aborted) {
      try {
        const response = await this.client.raw("GET", tenantPath(this.tenant, `/logs?${query}`), { headers: { accept: "text/event-stream" } });
        if (!response.ok || !response.body) throw new Error(String(response.status));
        for await (const data of serverEvents(response.body)) {
          if (this.abort.signal.aborted) break;
          const line = JSON.parse(data) as LogLine & { runId: string };
          this.print(`${line.level.padEnd(5)} [${line.runId.slice(0, 8)}] ${line.message}${showFields(line.fields)}`);
        }
      } catch {
        // Opened again below.
      }
      if (!this.abort.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
