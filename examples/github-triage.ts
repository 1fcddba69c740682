// Webhook acknowledgement with async follow-up, and a schedule: GitHub calls
// /hooks/default/github-triage/github when an issue is opened; Isobox verifies the signature,
// answers 202 at once, and runs `job` with the delivery. Each weekday morning `scheduled` posts a
// digest. Set GITHUB_WEBHOOK_SECRET (the secret in GitHub's webhook settings) and SLACK_WEBHOOK_URL.
import type { Handler } from "isobox";

interface Delivery {
  headers: Record<string, string>;
  event: { action?: string; issue?: { number: number; title: string; html_url: string } } | null;
}

export default {
  async job(payload, env, ctx) {
    const { headers, event } = payload as Delivery;
    if (headers["x-github-event"] !== "issues" || event?.action !== "opened" || !event.issue) return { ignored: true };
    const issue = event.issue;
    // A durable step: a retry of this job after a later failure does not post twice.
    await ctx.step.run("notify-slack", async () => {
      const response = await fetch(env.SLACK_WEBHOOK_URL, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: `New issue #${issue.number}: <${issue.html_url}|${issue.title}>` }),
      });
      if (!response.ok) throw new Error(`Slack answered ${response.status}`);
    });
    return { notified: issue.number };
  },

  async scheduled(event, env) {
    const response = await fetch(env.SLACK_WEBHOOK_URL, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: `Good morning: triage digest for ${new Date(event.scheduledTime).toDateString()}` }),
    });
    return { posted: response.ok };
  },
} satisfies Handler<{ SLACK_WEBHOOK_URL: string }>;
