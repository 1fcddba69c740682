// Job notifications: when a job with a `notify` URL finishes, that URL gets a POST signed the
// Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256>"),
// so a receiver verifies it with any Standard Webhooks library and the tenant's notify secret.
// It goes through the same egress checks as a guest's fetch: no private addresses.
import { createHmac, randomBytes } from "node:crypto";
import { EgressPolicy } from "../capabilities/egress.ts";
import type { Fetcher } from "../capabilities/fetch.ts";
import type { SecretStore } from "../capabilities/secrets.ts";
import type { Db } from "../db/connect.ts";
import { getSteps, markNotified, unnotifiedJobs, type JobRow } from "./queue.ts";
import { jobView } from "./view.ts";

/** The secret (in the tenant's secrets, created on first use) that signs job notifications. */
export const NOTIFY_SECRET = "ISOBOX_NOTIFY_SECRET";
const TRIES = [0, 1000, 5000];

export function newNotifySecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** The Standard Webhooks signature of one message. */
export function signStandardWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

export class Notifier {
  private readonly db: Db;
  private readonly fetcher: Fetcher;
  private readonly secrets: SecretStore;
  private readonly sending = new Set<Promise<void>>();
  constructor(db: Db, fetcher: Fetcher, secrets: SecretStore) {
    this.db = db;
    this.fetcher = fetcher;
    this.secrets = secrets;
  }

  /** Sends in the background, a few tries; a node that dies first leaves it to redeliverMissed. */
  notify(job: JobRow): void {
    if (!job.notify) return;
    const sending = this.deliver(job).finally(() => this.sending.delete(sending));
    this.sending.add(sending);
  }

  /** Jobs that finished a while ago without their notification (their node died): send them now. */
  async redeliverMissed(): Promise<void> {
    for (const job of await unnotifiedJobs(this.db, 60_000, 100)) this.notify(job);
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.sending]);
  }

  private async deliver(job: JobRow): Promise<void> {
    const url = new URL(job.notify!);
    const secret = await this.secrets.ensure(job.tenant, NOTIFY_SECRET, newNotifySecret);
    const body = JSON.stringify({ type: `job.${job.status}`, timestamp: new Date().toISOString(), data: jobView(job, await getSteps(this.db, job.id)) });
    const id = `msg_${job.id}_${job.attempts}_${job.status}`;
    for (const wait of TRIES) {
      if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
      const timestamp = Math.floor(Date.now() / 1000);
      const headers = ["content-type", "application/json", "webhook-id", id, "webhook-timestamp", String(timestamp), "webhook-signature", signStandardWebhook(secret, id, timestamp, body)];
      try {
        const response = await this.fetcher.fetch(new EgressPolicy([url.host]), { method: "POST", url: url.href, headers, body: new TextEncoder().encode(body).buffer as ArrayBuffer, redirect: "manual" });
        if (response.status >= 200 && response.status < 300) break;
      } catch {
        // Refused or unreachable: try again, then give up (the job's own state is unaffected).
      }
    }
    await markNotified(this.db, job.id).catch(() => {});
  }
}
