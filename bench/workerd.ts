// workerd, Cloudflare's Workers runtime, as a peer: a capnp config written into a temp dir and one
// `workerd serve` process (one event-loop thread) listening on a loopback port.
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BENCH_DIR } from "./peers.ts";

/** One worker service: an ES module, and the services it may call by name through `env`. */
export interface WorkerSource {
  name: string;
  code: string;
  services?: string[];
}

export interface Workerd {
  url: string;
  /** Resident memory of the workerd process, read from /proc. */
  rssBytes(): Promise<number>;
  /** Ends the process (SIGTERM, then SIGKILL) and removes the config. */
  close(): Promise<void>;
}

/** How long workerd may take to compile its workers and answer. */
const READY_MS = 60_000;

interface WorkerdPackage {
  /** The platform package's binary (found through optionalDependencies; no install script needed). */
  default: string;
  version: string;
  compatibilityDate: string;
}

/** Loaded on use, since bench/node_modules is installed by the first run. */
export function workerdPackage(): WorkerdPackage {
  return createRequire(`${BENCH_DIR}package.json`)("workerd") as WorkerdPackage;
}

/** Serves `workers`; the first one answers the socket. */
export async function startWorkerd(workers: WorkerSource[]): Promise<Workerd> {
  const dir = await mkdtemp(join(tmpdir(), "isobox-bench-workerd-"));
  const port = await freePort();
  for (const { name, code } of workers) await writeFile(join(dir, `${name}.js`), code);
  const workerd = workerdPackage();
  await writeFile(join(dir, "config.capnp"), capnpConfig(workers, port, workerd.compatibilityDate));
  const child = spawn(workerd.default, ["serve", join(dir, "config.capnp")], { stdio: ["ignore", "ignore", "pipe"] });
  // A bench that dies on an error elsewhere must not leave workerd listening.
  const stop = () => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stop);
  const close = async () => {
    process.off("exit", stop);
    await terminate(child);
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await ready(url, child);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, rssBytes: () => rss(child.pid!), close };
}

function capnpConfig(workers: WorkerSource[], port: number, compatibilityDate: string): string {
  const service = ({ name, services = [] }: WorkerSource) => `    (name = "${name}", worker = (
      modules = [(name = "${name}.js", esModule = embed "${name}.js")],
      compatibilityDate = "${compatibilityDate}",
      bindings = [${services.map((s) => `(name = "${s}", service = "${s}")`).join(", ")}],
    )),`;
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
${workers.map(service).join("\n")}
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "${workers[0].name}")],
);
`;
}

/** A port the kernel just handed out; workerd binds it a moment later. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function ready(url: string, child: ChildProcess): Promise<void> {
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => { stderr += chunk; });
  const deadline = performance.now() + READY_MS;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`workerd exited: ${stderr.trim()}`);
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`workerd did not answer on ${url} within ${READY_MS} ms: ${stderr.trim()}`);
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}
