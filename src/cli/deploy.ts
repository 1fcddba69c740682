// isobox deploy <file>: bundle, read the manifest, PUT a new version.
import { bundleFunction, functionName, readManifest } from "./bundle.ts";
import { tenantPath, type ApiClient } from "./client.ts";
import { formatBytes, type Output } from "./output.ts";

export interface DeployOptions {
  name?: string;
  tenant?: string;
  manifest?: string;
  /** Type-check the file against isobox's Handler first (with the project's TypeScript). */
  check?: boolean;
}

export interface DeployResult {
  name: string;
  version: number;
  url: string;
  bytes: number;
}

export async function deployFile(client: ApiClient, out: Output, file: string, options: DeployOptions): Promise<DeployResult> {
  const tenant = options.tenant ?? "default";
  const name = options.name ?? functionName(file);
  const started = performance.now();
  if (options.check) {
    out.progress(`Type-checking ${file}…`);
    const { typeCheck } = await import("./type-check.ts");
    await typeCheck(file);
  }
  out.progress(`Bundling ${file}…`);
  const bundle = await bundleFunction(file);
  const { manifest, path } = await readManifest(file, options.manifest);
  out.progress(`Deploying ${tenant}/${name} (${formatBytes(bundle.code.length)}${path ? `, manifest ${path}` : ""})…`);
  const deployed = await client.request<{ name: string; version: number; url: string; warnings?: string[] }>(
    "PUT", tenantPath(tenant, `/functions/${encodeURIComponent(name)}`),
    { code: bundle.code, manifest, sourceMap: bundle.sourceMap || undefined },
  );
  const result = { ...deployed, bytes: bundle.code.length };
  out.result(result, `Deployed ${tenant}/${deployed.name} v${deployed.version} in ${Math.round(performance.now() - started)} ms → ${deployed.url}`);
  if (!out.json) for (const warning of deployed.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
  return result;
}
