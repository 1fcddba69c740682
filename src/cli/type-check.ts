// isobox deploy --check: the function type-checked against isobox's Handler before it is sent, by
// the project's own `tsc` (none installed: said so, nothing checked) on a config of Isobox's.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CliError } from "./output.ts";

const run = promisify(execFile);

/** isobox's own declarations: the package's built ones, or the sources of a checkout. */
function isoboxTypes(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, "../index.d.ts"), resolve(here, "../index.ts")]) if (existsSync(candidate)) return candidate;
  throw new CliError("isobox's type declarations are not where this command expects them");
}

/** The project's tsc, else the one beside isobox. */
function findTsc(): string | undefined {
  for (const base of [resolve(process.cwd(), "package.json"), fileURLToPath(import.meta.url)]) {
    try {
      const manifest = createRequire(base).resolve("typescript/package.json");
      const bin = (createRequire(base)("typescript/package.json") as { bin?: Record<string, string> }).bin?.tsc;
      if (bin) return resolve(dirname(manifest), bin);
    } catch {
      // Not installed there; try the next place.
    }
  }
  return undefined;
}

/** Throws with each type error of `file` as `file:line:column: message`. */
export async function typeCheck(file: string): Promise<void> {
  const tsc = findTsc();
  if (!tsc) throw new CliError("--check needs TypeScript: npm install --save-dev typescript", 2);
  const dir = await mkdtemp(join(tmpdir(), "isobox-check-"));
  try {
    const config = join(dir, "tsconfig.json");
    await writeFile(config, JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, target: "es2024", module: "nodenext", moduleResolution: "nodenext",
        lib: ["es2024", "dom"], types: [], skipLibCheck: true, allowImportingTsExtensions: true, paths: { isobox: [isoboxTypes()] },
      },
      files: [resolve(file)],
    }));
    await run(process.execPath, [tsc, "-p", config, "--pretty", "false"], { maxBuffer: 16 * 1024 * 1024 }).catch((error: { stdout?: string }) => {
      const lines = (error.stdout ?? "").split("\n").map((line) => /^(.+?)\((\d+),(\d+)\): error TS\d+: (.*)$/.exec(line))
        .filter((match): match is RegExpExecArray => match !== null && resolve(match[1]) === resolve(file))
        .map(([, path, line, column, message]) => `${relative(process.cwd(), path)}:${line}:${column}: ${message}`);
      if (lines.length === 0) throw new CliError(`tsc failed: ${(error.stdout ?? String(error)).slice(0, 500)}`);
      throw new CliError(`${lines.length} type error${lines.length === 1 ? "" : "s"}, nothing deployed:\n${lines.slice(0, 20).join("\n")}`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
