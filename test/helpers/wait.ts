// Polling for what happens in the background (a job finishing, a run being recorded): one set of
// helpers for every suite. Each fails with what it waited for and the last value it saw.
import { setTimeout as sleep } from "node:timers/promises";

/** The API call these helpers poll through: a TestBox's `api`, or any function of the same shape. */
export type Api = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/**
 * Resolves with the first value `read` returns that is not undefined or false, polling every
 * `everyMs`; a throw counts as not yet. Fails after `timeoutMs`, naming `what`.
 */
export async function eventually<T>(what: string, read: () => Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await read();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 300)})`);
    await sleep(everyMs);
  }
}

export const FINISHED = (job: { status: string }) => ["succeeded", "failed", "cancelled"].includes(job.status);

/** A tenant's job once `done(job)` holds (by default: it finished). */
export function waitForJob(api: Api, tenant: string, id: string, done: (job: any) => boolean = FINISHED, timeoutMs = 30_000): Promise<any> {
  let job: any;
  return eventually(`job ${id} to get there`, async () => {
    job = (await api("GET", `/api/tenants/${tenant}/jobs/${id}`)).body;
    return done(job) ? job : undefined;
  }, timeoutMs, 50).catch((error: Error) => {
    throw new Error(`${error.message}; the job: ${JSON.stringify(job)?.slice(0, 500)}`);
  });
}

/** A tenant's runs matching `query` (a runs API query string) once `check(runs)` holds. */
export function waitForRuns(api: Api, tenant: string, query: string, check: (runs: any[]) => boolean = (runs) => runs.length > 0, timeoutMs = 15_000): Promise<any[]> {
  return eventually(`runs?${query} of ${tenant}`, async () => {
    const runs = (await api("GET", `/api/tenants/${tenant}/runs?${query}`)).body.runs as any[];
    return check(runs) ? runs : undefined;
  }, timeoutMs, 50);
}

/** The newest run matching `query`, with its logs and steps. */
export async function waitForRun(api: Api, tenant: string, query: string, timeoutMs?: number): Promise<any> {
  const [run] = await waitForRuns(api, tenant, query, (runs) => runs.length > 0, timeoutMs);
  return (await api("GET", `/api/tenants/${tenant}/runs/${run.id}`)).body;
}
