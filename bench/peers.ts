// Installs bench/'s own dependencies (the peers and the load generator) on first use.
// workerd's postinstall only links its platform package's binary into bin/ (or downloads it when
// optional dependencies were skipped): bench/package.json denies it through allowScripts and
// bench/workerd.ts runs the platform package's binary, so the install is the same whether or not
// this npm runs dependencies' install scripts.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = fileURLToPath(new URL(".", import.meta.url));

export function ensurePeers(): void {
  const { dependencies } = JSON.parse(readFileSync(`${BENCH_DIR}package.json`, "utf8")) as { dependencies: Record<string, string> };
  if (Object.keys(dependencies).every((name) => existsSync(`${BENCH_DIR}node_modules/${name}/package.json`))) return;
  console.error("bench: installing the load generator and peers into bench/node_modules (first run only)…");
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock"], { cwd: BENCH_DIR, stdio: "inherit" });
}
