// Runs `isobox start` as a real process tree (supervisor + workers) for process-level tests.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { TEST_ADMIN_TOKEN, TEST_MASTER_KEY } from "./box.ts";

const BIN = fileURLToPath(new URL("../../bin/isobox.js", import.meta.url));

export interface NodeProcess {
  url: string;
  token: string;
  dataDir: string;
  child: ChildProcess;
  output(): string;
  workerPids(): number[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs the supervisor and every worker (a power cut); resolves once all of them are gone. */
  kill(): Promise<void>;
  /** SIGTERM and wait; removes the data dir unless the caller passed its own. */
  stop(): Promise<void>;
}

export interface StartNodeOptions {
  /** Start on this data dir (e.g. one a previous node used, to find the same PGlite database); the caller removes it. */
  dataDir?: string;
}

/** True once `pid` is gone (or a zombie nobody reaped yet: it runs no code any more). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    }).on("error", reject);
  });
}

export async function startNode(args: string[] = [], env: Record<string, string> = {}, options: StartNodeOptions = {}): Promise<NodeProcess> {
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), "isobox-proc-"));
  const port = await freePort();
  // The admin token is set, not generated: on a shared database the cluster's is the one that works.
  const childEnv = { ...process.env, ISOBOX_DATA_DIR: dataDir, ISOBOX_HOST: "127.0.0.1", ISOBOX_MASTER_KEY: TEST_MASTER_KEY, ISOBOX_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...env };
  const child = spawn(process.execPath, ["--no-node-snapshot", BIN, "start", "--port", String(port), ...args], {
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (d) => { log += d; });
  child.stderr!.on("data", (d) => { log += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (/listening on/.test(log)) break;
    if (child.exitCode !== null || i > 300) throw new Error(`isobox start did not come up:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const token = childEnv.ISOBOX_ADMIN_TOKEN || (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
  const workerPids = () => {
    try {
      return execFileSync("ps", ["-o", "pid=", "--ppid", String(child.pid)], { encoding: "utf8" }).split("\n").map((s) => Number(s.trim())).filter(Boolean);
    } catch {
      return [];
    }
  };
  return {
    url, token, dataDir, child, exited,
    output: () => log,
    workerPids,
    async kill() {
      // Frozen first (the supervisor, so it starts no replacement; then the workers, so none sees
      // the supervisor die and shuts down in order), then killed: all of them stop at one instant.
      const workers = workerPids();
      const all = [child.pid!, ...workers];
      for (const signal of ["SIGSTOP", "SIGKILL"] as const) {
        for (const pid of all) {
          try {
            process.kill(pid, signal);
          } catch {
            // gone already
          }
        }
      }
      await exited;
      for (let i = 0; !workers.every(gone); i++) {
        if (i > 100) throw new Error(`workers ${workers.filter((pid) => !gone(pid)).join(", ")} survived SIGKILL`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
