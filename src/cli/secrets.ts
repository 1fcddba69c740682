// isobox secrets set|list|delete: the value from --value, else from standard input (so it stays
// out of shell history), never echoed.
import { tenantPath, type ApiClient } from "./client.ts";
import { confirm } from "./confirm.ts";
import { CliError, type Output } from "./output.ts";

/** The value from a pipe as it is (one trailing newline dropped); on a terminal, one line typed unseen. */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return readHidden("Value (not shown): ");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  let value = "";
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n" || char === "\u0004") return done();
        if (char === "\u0003") return done(new CliError("Cancelled"));
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}

export async function setSecret(client: ApiClient, out: Output, name: string, options: { tenant?: string; value?: string }): Promise<void> {
  const tenant = options.tenant ?? "default";
  const value = options.value ?? (await readStdin());
  if (value === "") throw new CliError("The secret value is empty");
  const result = await client.request<{ name: string; updatedAt: string }>("PUT", tenantPath(tenant, `/secrets/${encodeURIComponent(name)}`), { value });
  out.result(result, `Set ${tenant}/${result.name}`);
}

export async function deleteSecret(client: ApiClient, out: Output, name: string, options: { tenant?: string; yes?: boolean }): Promise<void> {
  const tenant = options.tenant ?? "default";
  await confirm(`Delete the secret ${tenant}/${name}? Functions that name it lose it.`, options.yes);
  await client.request("DELETE", tenantPath(tenant, `/secrets/${encodeURIComponent(name)}`));
  out.result({ name, deleted: true }, `Deleted ${tenant}/${name}`);
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
