// The isobox command line.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { apiClient } from "./client.ts";
import { deployFile } from "./deploy.ts";
import { invokeFunction } from "./invoke.ts";
import { CliError, output } from "./output.ts";
import { listSecrets, rotateKey, setSecret } from "./secrets.ts";
import { changeJob, enqueueJob, listJobs, showJob } from "./jobs.ts";
import { listRuns, showRun } from "./runs.ts";
import { showLogs } from "./logs.ts";
import { changeSchedule, listSchedules } from "./schedules.ts";
import { listDeliveries, listHooks, replayDelivery, sendDelivery } from "./hooks.ts";

const USAGE = `Usage: isobox <command> [options]

Commands:
  start [--port N] [--workers N] [--demo] [--data-dir DIR]   run an Isobox node
  dev <file> [--name N] [--tenant T] [--port P] [--env-file F]   deploy, then redeploy on every save; logs and runs stream
  deploy <file> [--name N] [--tenant T] [--manifest FILE]    bundle and deploy a function
  invoke <name> [--tenant T] [--path /p] [-X METHOD] [-d DATA] [-H "K: V"]   call a function
  jobs [--tenant T] [--function F] [--status S] [--limit N]  list jobs with counts by status
  jobs show <id>                                              a job with its steps, result or error
  jobs enqueue <name> [--payload JSON] [--key K] [--delay MS] [--wait]   start a job (--wait: until it ends)
  jobs cancel <id> | jobs retry <id>                          stop a job, or run a failed one again
  logs <name> [--follow] [--limit N]                          a function's latest log lines; --follow streams new ones
  runs [--function F] [--trigger T] [--status S] [--since T] [--until T] [--limit N]
                                                              runs, newest first (T: ISO 8601)
  runs show <id>                                              a run: its steps as a timeline, error, logs
  schedules [--tenant T]                                      schedules with their next fires and last run
  schedules trigger|pause|resume <id>                         fire one now, pause, resume (id: function.name)
  hooks [--tenant T]                                          each webhook's URL to paste into the provider
  hooks events [--function F] [--status accepted|rejected]    deliveries, with why rejected ones were refused
  hooks replay <event id>                                     run a delivery again
  hooks send <function> <hook> [--payload JSON|@file]         a test delivery signed as the hook's provider signs
  secrets set <NAME> [--tenant T] [--value V]                 set a secret (value from stdin by default)
  secrets list [--tenant T]                                   list secret names
  secrets rotate-key                                          re-encrypt every secret under a new master key

Options: --json (machine-readable output), --help
Remote use: ISOBOX_URL (default http://localhost:8787) and ISOBOX_TOKEN.`;

const COMMON = { json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

function parse<O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n\n${USAGE}`, 2);
  }
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`${flag}: expected a whole number, got ${JSON.stringify(value)}`, 2);
  return n;
}

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(USAGE);
    return;
  }
  switch (command) {
    case "start": {
      const { values } = parse(rest, { port: { type: "string", short: "p" }, workers: { type: "string", short: "w" }, demo: { type: "boolean" }, "data-dir": { type: "string" } });
      const { start } = await import("./start.ts");
      return start({ port: int(values.port, "--port"), workers: int(values.workers, "--workers"), demo: values.demo, dataDir: values["data-dir"] });
    }
    case "dev": {
      const { values, positionals } = parse(rest, { name: { type: "string" }, tenant: { type: "string" }, port: { type: "string", short: "p" }, "env-file": { type: "string" }, manifest: { type: "string" } });
      if (positionals.length !== 1) throw new CliError("dev needs one file: isobox dev <file>", 2);
      const { dev } = await import("./dev.ts");
      return dev(positionals[0], { name: values.name, tenant: values.tenant, port: int(values.port, "--port"), envFile: values["env-file"], manifest: values.manifest });
    }
    case "deploy": {
      const { values, positionals } = parse(rest, { name: { type: "string" }, tenant: { type: "string" }, manifest: { type: "string" } });
      if (positionals.length !== 1) throw new CliError(`deploy needs one file: isobox deploy <file>`, 2);
      await deployFile(apiClient(), output(!!values.json), positionals[0], values);
      return;
    }
    case "invoke": {
      const { values, positionals } = parse(rest, {
        tenant: { type: "string" }, path: { type: "string" }, method: { type: "string", short: "X" },
        data: { type: "string", short: "d" }, header: { type: "string", short: "H", multiple: true },
      });
      if (positionals.length !== 1) throw new CliError(`invoke needs a function name: isobox invoke <name>`, 2);
      await invokeFunction(apiClient(), output(!!values.json), positionals[0], { ...values, headers: values.header });
      return;
    }
    case "jobs": {
      const [sub, ...more] = rest[0]?.startsWith("-") || rest.length === 0 ? ["list", ...rest] : rest;
      const { values, positionals } = parse(more, {
        tenant: { type: "string" }, function: { type: "string" }, status: { type: "string" }, limit: { type: "string" },
        payload: { type: "string" }, key: { type: "string" }, delay: { type: "string" }, wait: { type: "boolean" },
      });
      const out = output(!!values.json);
      if (sub === "list" && positionals.length === 0) return listJobs(apiClient(), out, values);
      if (sub === "show" && positionals.length === 1) return showJob(apiClient(), out, positionals[0], values);
      if (sub === "enqueue" && positionals.length === 1) return enqueueJob(apiClient(), out, positionals[0], values);
      if ((sub === "cancel" || sub === "retry") && positionals.length === 1) return changeJob(apiClient(), out, sub, positionals[0], values);
      throw new CliError("usage: isobox jobs [list] | jobs show <id> | jobs enqueue <name> | jobs cancel <id> | jobs retry <id>", 2);
    }
    case "logs": {
      const { values, positionals } = parse(rest, { tenant: { type: "string" }, follow: { type: "boolean", short: "f" }, limit: { type: "string" } });
      if (positionals.length !== 1) throw new CliError("usage: isobox logs <name> [--follow]", 2);
      return showLogs(apiClient(), output(!!values.json), positionals[0], values);
    }
    case "runs": {
      const [sub, ...more] = rest[0]?.startsWith("-") || rest.length === 0 ? ["list", ...rest] : rest;
      const { values, positionals } = parse(more, { tenant: { type: "string" }, function: { type: "string" }, trigger: { type: "string" }, status: { type: "string" }, since: { type: "string" }, until: { type: "string" }, limit: { type: "string" } });
      const out = output(!!values.json);
      if (sub === "list" && positionals.length === 0) return listRuns(apiClient(), out, values);
      if (sub === "show" && positionals.length === 1) return showRun(apiClient(), out, positionals[0], values);
      throw new CliError("usage: isobox runs | runs show <id>", 2);
    }
    case "schedules": {
      const [sub, ...more] = rest[0]?.startsWith("-") || rest.length === 0 ? ["list", ...rest] : rest;
      const { values, positionals } = parse(more, { tenant: { type: "string" } });
      const out = output(!!values.json);
      if (sub === "list" && positionals.length === 0) return listSchedules(apiClient(), out, values);
      if ((sub === "trigger" || sub === "pause" || sub === "resume") && positionals.length === 1) return changeSchedule(apiClient(), out, sub, positionals[0], values);
      throw new CliError("usage: isobox schedules | schedules trigger|pause|resume <function.name>", 2);
    }
    case "hooks": {
      const [sub, ...more] = rest[0]?.startsWith("-") || rest.length === 0 ? ["list", ...rest] : rest;
      const { values, positionals } = parse(more, { tenant: { type: "string" }, function: { type: "string" }, status: { type: "string" }, payload: { type: "string" } });
      const out = output(!!values.json);
      if (sub === "list" && positionals.length === 0) return listHooks(apiClient(), out, values);
      if (sub === "send" && positionals.length === 2) return sendDelivery(apiClient(), out, positionals[0], positionals[1], values);
      if (sub === "events" && positionals.length === 0) return listDeliveries(apiClient(), out, values);
      if (sub === "replay" && positionals.length === 1) return replayDelivery(apiClient(), out, positionals[0], values);
      throw new CliError("usage: isobox hooks | hooks events | hooks replay <event id> | hooks send <function> <hook> [--payload JSON|@file]", 2);
    }
    case "secrets": {
      const [sub, ...more] = rest;
      const { values, positionals } = parse(more, { tenant: { type: "string" }, value: { type: "string" } });
      if (sub === "set" && positionals.length === 1) return setSecret(apiClient(), output(!!values.json), positionals[0], values);
      if (sub === "list" && positionals.length === 0) return listSecrets(apiClient(), output(!!values.json), values);
      if (sub === "rotate-key" && positionals.length === 0) return rotateKey(apiClient(), output(!!values.json));
      throw new CliError("usage: isobox secrets set <NAME> | isobox secrets list | isobox secrets rotate-key", 2);
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return;
    default:
      throw new CliError(`Unknown command "${command}"\n\n${USAGE}`, 2);
  }
}

export async function main(argv: string[]): Promise<void> {
  try {
    await run(argv);
  } catch (error) {
    if (error instanceof CliError) {
      console.error(`isobox: ${error.message}`);
      process.exitCode = error.exitCode;
      return;
    }
    console.error(`isobox: ${(error as Error).message ?? error}`);
    process.exitCode = 1;
  }
}
