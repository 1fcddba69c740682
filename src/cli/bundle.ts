// Bundles a function's entry file (and the npm packages it imports) into one ES module.
import { readFile } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "./output.ts";

/** What a function may import from "isobox" at run time (types are erased). */
const GUEST_EXPORTS = fileURLToPath(new URL(`../jobs/retry-errors${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

export interface Bundle {
  code: string;
  sourceMap: string;
  /** The local files the bundle read (absolute paths; packages under node_modules left out): what `isobox dev` watches. */
  inputs: string[];
}

export async function bundleFunction(file: string): Promise<Bundle> {
  const { build } = await import("esbuild");
  try {
    const result = await build({
      entryPoints: [resolve(file)],
      // Source paths in the map (and so in stored stacks) are relative to the entry's folder.
      absWorkingDir: dirname(resolve(file)),
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      target: "es2024",
      // Packages that ship a Workers or browser build get it: the guest has Web APIs, not Node's.
      conditions: ["workerd", "worker", "browser", "import"],
      mainFields: ["browser", "module", "main"],
      // `import { NonRetriableError } from "isobox"` in a function gets the two error classes only,
      // not the server.
      alias: { isobox: GUEST_EXPORTS },
      sourcemap: "external",
      outdir: "out",
      logLevel: "silent",
      metafile: true,
    });
    const js = result.outputFiles.find((f) => f.path.endsWith(".js"));
    const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
    if (!js) throw new CliError(`esbuild produced no JavaScript for ${file}`);
    const root = dirname(resolve(file));
    const inputs = Object.keys(result.metafile.inputs).filter((input) => !input.includes("node_modules/") && !input.includes(":")).map((input) => resolve(root, input));
    return { code: js.text, sourceMap: map?.text ?? "", inputs };
  } catch (error) {
    if (error instanceof CliError) throw error;
    const first = (error as { errors?: { text: string; location?: { file: string; line: number; column: number } }[] }).errors?.[0];
    if (first) {
      const at = first.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : "";
      throw new CliError(`${at}${unresolvedHint(first.text) ?? first.text}`);
    }
    throw new CliError(`Cannot bundle ${file}: ${(error as Error).message}`);
  }
}

/** What the guest has instead of each Node built-in a function might reach for. */
const WEB_INSTEAD: Record<string, string> = {
  crypto: "use crypto.subtle, crypto.randomUUID and crypto.getRandomValues",
  buffer: "use Uint8Array, TextEncoder/TextDecoder and atob/btoa",
  http: "use fetch", https: "use fetch", net: "use fetch", dns: "use fetch",
  url: "use URL and URLSearchParams", querystring: "use URLSearchParams", path: "use URL",
  events: "use EventTarget", stream: "use ReadableStream", util: "use TextEncoder/TextDecoder and structuredClone",
  timers: "use setTimeout and setInterval",
  fs: "there is no file system: keep state in a job's steps or results, or call a storage API with fetch",
  child_process: "a function cannot start processes",
};

/** An unresolved import said as what to do: a Node built-in is not in the sandbox, a package needs installing. */
function unresolvedHint(text: string): string | undefined {
  const name = /^Could not resolve "([^"]+)"/.exec(text)?.[1];
  if (!name || name.startsWith(".") || name.startsWith("/")) return undefined;
  const bare = name.replace(/^node:/, "");
  if (name.startsWith("node:") || bare in WEB_INSTEAD) {
    const instead = WEB_INSTEAD[bare] ?? WEB_INSTEAD[bare.split("/")[0]];
    return `${name}: Node built-ins are not in the sandbox, which has Web APIs: ${instead ?? "fetch, crypto.subtle, TextEncoder, URL, streams"}`;
  }
  const pkg = name.startsWith("@") ? name.split("/").slice(0, 2).join("/") : name.split("/")[0];
  return `${name}: the package ${pkg} is not installed: npm install ${pkg}`;
}

/** The manifest: --manifest, else <name>.json or <file>.json beside the file, else {}. */
export async function readManifest(file: string, explicit?: string): Promise<{ manifest: unknown; path?: string }> {
  const stem = basename(file, extname(file));
  const candidates = explicit ? [explicit] : [join(dirname(file), `${stem}.json`), `${file}.json`];
  for (const path of candidates) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if (explicit) throw new CliError(`Cannot read manifest ${path}: ${(error as NodeJS.ErrnoException).code}`);
      continue;
    }
    try {
      return { manifest: JSON.parse(text), path };
    } catch (error) {
      throw new CliError(`${path}: invalid JSON (${(error as Error).message})`);
    }
  }
  return { manifest: {} };
}

export function functionName(file: string): string {
  return basename(file, extname(file)).toLowerCase().replace(/[^a-z0-9_-]/g, "-");
}
