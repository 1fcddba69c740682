// isobox secrets set <NAME>: the value from --value, else from standard input (so it stays out of
// shell history), never echoed.
import { tenantPath, type ApiClient } from "./client.ts";
import { CliError, type Output } from "./output.ts";

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("Value (end with Ctrl-D): ");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

export async function setSecret(client: ApiClient, out: Output, name: string, options: { tenant?: string; value?: string }): Promise<void> {
  const tenant = options.tenant ?? "default";
  const value = options.value ?? (await readStdin());
  if (value === "") throw new CliError("The secret value is empty");
  const result = await client.request<{ name: string; updatedAt: string }>("PUT", tenantPath(tenant, `/secrets/${encodeURIComponent(name)}`), { value });
  out.result(result, `Set ${tenant}/${result.name}`);
}

export async function rotateKey(client: ApiClient, out: Output): Promise<void> {
  out.progress("Re-encrypting every secret under the first master key…");
  const result = await client.request<{ keyId: string; reencrypted: number }>("POST", "/api/secrets/rotate-key", {});
  out.result(result, `Re-encrypted ${result.reencrypted} secret${result.reencrypted === 1 ? "" : "s"} under master key ${result.keyId}`);
}

export async function listSecrets(client: ApiClient, out: Output, options: { tenant?: string }): Promise<void> {
  const tenant = options.tenant ?? "default";
  const { secrets } = await client.request<{ secrets: { name: string; updatedAt: string }[] }>("GET", tenantPath(tenant, "/secrets"));
  out.result({ secrets }, secrets.length ? secrets.map((s) => `${s.name.padEnd(32)} ${s.updatedAt}`).join("\n") : `No secrets in ${tenant}`);
}
