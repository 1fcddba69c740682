// An agent tool: summarize a text with a model API (OpenAI-compatible chat completions). As an MCP
// tool (the manifest's `tool`), agents call `tool` with arguments already checked against
// `tool.input`; over HTTP, `fetch` takes the same JSON. The key comes from the MODEL_API_KEY
// secret; MODEL_API_URL may point at another compatible API (which fetch.allow must then name).
import type { Handler } from "isobox";

const DEFAULT_API = "https://api.openai.com/v1";

type Env = { MODEL_API_KEY?: string; MODEL_API_URL?: string };

async function summarize(text: string, env: Env): Promise<{ summary: string }> {
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
    throw new Error(`model API answered ${response.status}`);
  }
  const completion = (await response.json()) as { choices: { message: { content: string } }[] };
  console.log("summarized", text.length, "chars in", Date.now() - started, "ms");
  return { summary: completion.choices[0]?.message.content ?? "" };
}

export default {
  // MCP tools/call: `input` matches the manifest's tool.input.
  tool(input, env) {
    return summarize((input as { text: string }).text, env as Env);
  },

  async fetch(request, env) {
    if (request.method !== "POST") return Response.json({ error: "POST {\"text\": \"...\"}" }, { status: 405 });
    const { text } = (await request.json()) as { text?: unknown };
    if (typeof text !== "string" || text.length === 0) return Response.json({ error: "text is required" }, { status: 400 });
    if (text.length > 20_000) return Response.json({ error: "text is longer than 20000 characters" }, { status: 413 });
    // A failure of the model API throws: 500 ERR_FUNCTION_THREW with its message (isError over MCP).
    return Response.json(await summarize(text, env as Env));
  },
} satisfies Handler;
