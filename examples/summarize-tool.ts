// An agent tool: summarize a text with a model API (OpenAI-compatible chat completions).
// The key comes from the MODEL_API_KEY secret; MODEL_API_URL may point at another compatible
// API (which the manifest's fetch.allow must then name).
import type { Handler } from "isobox";

const DEFAULT_API = "https://api.openai.com/v1";

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return Response.json({ error: "POST {\"text\": \"...\"}" }, { status: 405 });
    const { text } = (await request.json()) as { text?: unknown };
    if (typeof text !== "string" || text.length === 0) return Response.json({ error: "text is required" }, { status: 400 });
    if (text.length > 20_000) return Response.json({ error: "text is longer than 20000 characters" }, { status: 413 });

    const started = Date.now();
    const response = await fetch(`${env.MODEL_API_URL ?? DEFAULT_API}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${env.MODEL_API_KEY ?? ""}` },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        messages: [
          { role: "system", content: "Summarize the user's text in at most three sentences." },
          { role: "user", content: text },
        ],
      }),
    });
    if (!response.ok) {
      console.error("model API answered", response.status, await response.text());
      return Response.json({ error: `model API answered ${response.status}` }, { status: 502 });
    }
    const completion = (await response.json()) as { choices: { message: { content: string } }[] };
    console.log("summarized", text.length, "chars in", Date.now() - started, "ms");
    return Response.json({ summary: completion.choices[0]?.message.content ?? "" });
  },
} satisfies Handler;
