#!/usr/bin/env node
// The isobox command. isolated-vm needs Node started with --no-node-snapshot: re-exec once
// with it when missing. Runs the built JavaScript when present (an installed package), else
// the TypeScript sources (this repository; Node 24 strips types).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

if (!process.execArgv.includes("--no-node-snapshot")) {
  const child = spawn(process.execPath, ["--no-node-snapshot", ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
} else {
  const built = new URL("../dist/src/cli/main.js", import.meta.url);
  const { main } = await import(existsSync(built) ? built.href : new URL("../src/cli/main.ts", import.meta.url).href);
  await main(process.argv.slice(2));
}
