// isobox logs <function> [--follow]: the latest lines, then (with --follow) each new one as the
// guest writes it, read from the API's server-sent events until interrupted.
import { tenantPath, type ApiClient } from "./client.ts";
import { CliError, showFields, type LogLine, type Output } from "./output.ts";
import { serverEvents } from "./server-events.ts";

interface Line extends LogLine { runId: string }

function format(line: Line): string {
  return `${line.time} ${line.level.padEnd(5)} [${line.runId.slice(0, 8)}] ${line.message}${showFields(line.fields)}`;
}

export async function showLogs(client: ApiClient, out: Output, fn: string, options: { tenant?: string; follow?: boolean; limit?: string }): Promise<void> {
  const query = new URLSearchParams({ function: fn, limit: options.limit ?? "100" });
  const path = tenantPath(options.tenant, "/logs");
  if (!options.follow) {
    const { logs } = await client.request<{ logs: Line[] }>("GET", `${path}?${query}`);
    out.result({ logs }, logs.length ? logs.map(format).join("\n") : `No logs for ${fn}`);
    return;
  }
  query.set("follow", "1");
  const response = await client.raw("GET", `${path}?${query}`, { headers: { accept: "text/event-stream" } });
  if (!response.ok || !response.body) throw new CliError(`Cannot follow the logs of ${fn}: ${response.status} ${await response.text()}`);
  out.progress(`Following ${fn} (Ctrl-C to stop)`);
  for await (const data of serverEvents(response.body)) {
    process.stdout.write(out.json ? `${data}\n` : `${format(JSON.parse(data) as Line)}\n`);
  }
}
