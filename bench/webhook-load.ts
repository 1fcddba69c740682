// Runs in its own process (spawned by bench/webhooks.ts): autocannon POSTs GitHub-signed
// deliveries, each with a fresh X-GitHub-Delivery id, so every request is a new event and job.
// argv: url connections seconds secret; prints autocannon's JSON result.
import { createHmac, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { BENCH_DIR } from "./peers.ts";

const [url, connections, seconds, secret] = process.argv.slice(2);
const autocannon = createRequire(`${BENCH_DIR}package.json`)("autocannon");
const body = JSON.stringify({ action: "opened", issue: { number: 1, title: "Bench" } });
const signature = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
const result = await autocannon({
  url,
  connections: Number(connections),
  duration: Number(seconds),
  requests: [{
    method: "POST",
    setupRequest: (request: Record<string, unknown>) => ({
      ...request,
      body,
      headers: { "content-type": "application/json", "x-hub-signature-256": signature, "x-github-delivery": randomUUID() },
    }),
  }],
});
process.stdout.write(JSON.stringify(result));
