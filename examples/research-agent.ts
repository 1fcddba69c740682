// A slow agent workflow as a background job: POST {"url": "..."} answers 202 with a job id at
// once; the job fetches the page and asks a model for a summary, each as a durable step, so a
// retry after a model error does not fetch the page again. GET ?id=<job> polls the job.
import { NonRetriableError, type Handler } from "isobox";

const DEFAULT_API = "https://api.openai.com/v1";

export default {
  async fetch(request, env, ctx) {
    const id = new URL(request.url).searchParams.get("id");
    if (request.method === "GET" && id) {
      const job = await ctx.jobs.get(id);
      return job ? Response.json(job) : Response.json({ error: "no such job" }, { status: 404 });
    }
    if (request.method !== "POST") return Response.json({ error: "POST {\"url\": \"https://...\"} or GET ?id=<job>" }, { status: 405 });
    const { url } = (await request.json()) as { url?: unknown };
    if (typeof url !== "string" || !URL.canParse(url)) return Response.json({ error: "url is required" }, { status: 400 });
    // The same URL twice is one job: the key makes a client's retry safe.
    const job = await ctx.enqueue({ url }, { key: url });
    return Response.json({ ...job, poll: `?id=${job.id}` }, { status: 202 });
  },

  async job(payload, env, ctx) {
    const { url } = payload as { url: string };
    const page = await ctx.step.run("fetch-page", async () => {
      const response = await fetch(url);
      if (response.status === 404) throw new NonRetriableError(`${url} does not exist`);
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      return (await response.text()).slice(0, 20_000);
    });
    console.log("fetched", page.length, "chars from", url);

    const summary = await ctx.step.run("summarize", async () => {
      const response = await fetch(`${env.MODEL_API_URL ?? DEFAULT_API}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${env.MODEL_API_KEY ?? ""}` },
        body: JSON.stringify({
          model: "gpt-4o-mini",
          messages: [
            { role: "system", content: "Summarize the page in at most three sentences." },
            { role: "user", content: page },
          ],
        }),
      });
      // A model error fails this attempt; the job is retried with backoff, from this step.
      if (!response.ok) throw new Error(`model API answered ${response.status}`);
      const completion = (await response.json()) as { choices: { message: { content: string } }[] };
      return completion.choices[0]?.message.content ?? "";
    });
    return { url, summary };
  },
} satisfies Handler;
