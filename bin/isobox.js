#!/usr/bin/env node
// The isobox command. isolated-vm needs Node started with --no-node-snapshot: re-exec once
// with it when missing. Runs the TypeScript sources when present (a checkout; Node 24 strips
// types), else the built JavaScript (an installed package ships dist/ only).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  console.error(`isobox: Node.js 24 or newer is required; this is ${process.version} (nvm install 24, or https://nodejs.org)`);
  process.exit(1);
} else if (!process.execArgv.includes("--no-node-snapshot")) {
  const child = spawn(process.execPath, ["--no-node-snapshot", ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
} else {
  const source = new URL("../src/cli/main.ts", import.meta.url);
  const { main } = await import(existsSync(source) ? source.href : new URL("../dist/src/cli/main.js", import.meta.url).href);
  await main(process.argv.slice(2));
}
