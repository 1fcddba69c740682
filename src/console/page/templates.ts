// What New function starts from: a working function of each kind, with its manifest.

export interface Template {
  id: string;
  label: string;
  source: string;
  manifest: Record<string, unknown>;
}

const httpTool = `// An HTTP tool: agents call it with JSON and get JSON back.
export default {
  async fetch(request: Request, env: Record<string, string>, ctx: any) {
    if (request.method !== "POST") return Response.json({ usage: 'POST {"city": "Berlin"}' });
    const { city } = (await request.json()) as { city?: string };
    if (!city) return Response.json({ error: "city is required" }, { status: 400 });
    console.log("looking up", city);
    return Response.json({ city, forecast: "sunny", temperatureC: 21 });
  },
};
`;

const jobWithSteps = `// A background job with durable steps: POST answers 202 with the job at once; a retry after a
// failure resumes after the steps that finished, so their side effects do not happen twice.
export default {
  async fetch(request: Request, env: Record<string, string>, ctx: any) {
    const input = request.method === "POST" ? await request.json() : { topic: "isolates" };
    const job = await ctx.enqueue(input);
    return Response.json(job, { status: 202 });
  },

  async job(payload: { topic?: string }, env: Record<string, string>, ctx: any) {
    const notes = await ctx.step.run("research", async () => {
      console.log("researching", payload.topic);
      return [\`\${payload.topic} run untrusted code\`, \`\${payload.topic} start in milliseconds\`];
    });
    const summary = await ctx.step.run("summarize", async () => notes.join("; "));
    return { topic: payload.topic, summary };
  },
};
`;

const webhookHandler = `// A webhook handler: Isobox checks the signature, answers 202 at once and runs \`job\` with the
// delivery. Set the secret WEBHOOK_SECRET (Secrets) to the signing secret the provider shows.
export default {
  async job(delivery: { headers: Record<string, string>; event: any; body: string }, env: Record<string, string>, ctx: any) {
    console.log("delivery", delivery.headers["webhook-id"] ?? "", delivery.event?.type ?? "");
    await ctx.step.run("handle", async () => ({ handled: delivery.event?.type ?? "unknown" }));
    return { ok: true };
  },
};
`;

const schedule = `// A schedule: \`scheduled\` runs at each fire of the cron expression (UTC unless a timezone is set).
export default {
  async scheduled(event: { scheduledTime: string; name: string }, env: Record<string, string>, ctx: any) {
    console.log("tick", event.name, event.scheduledTime);
    return { at: event.scheduledTime };
  },
};
`;

const mcpTool = `// A tool agents discover over MCP (POST /mcp/<tenant>): the manifest's "tool" describes it, and
// the arguments reach tool() already checked against tool.input. What it returns is the result.
export default {
  tool(input: { text: string }, env: Record<string, string>, ctx: any) {
    const words = input.text.split(/\\s+/).filter(Boolean);
    console.log("counted", words.length, "words");
    return { words: words.length, characters: input.text.length };
  },
};
`;

export const TEMPLATES: Template[] = [
  { id: "http-tool", label: "HTTP tool", source: httpTool, manifest: { routes: { auth: "key" } } },
  { id: "job", label: "Background job with steps", source: jobWithSteps, manifest: { jobs: { maxAttempts: 3 } } },
  {
    id: "webhook",
    label: "Webhook handler",
    source: webhookHandler,
    manifest: { secrets: ["WEBHOOK_SECRET"], webhooks: [{ name: "incoming", verify: { scheme: "standard", secret: "WEBHOOK_SECRET" } }] },
  },
  { id: "schedule", label: "Schedule", source: schedule, manifest: { schedules: [{ name: "every-hour", cron: "0 * * * *" }] } },
  {
    id: "mcp-tool",
    label: "MCP tool",
    source: mcpTool,
    manifest: {
      tool: {
        description: "Count the words and characters of a text",
        input: { type: "object", properties: { text: { type: "string", description: "The text to count" } }, required: ["text"] },
        output: { type: "object", properties: { words: { type: "integer" }, characters: { type: "integer" } }, required: ["words", "characters"] },
        annotations: { readOnlyHint: true },
      },
    },
  },
];
