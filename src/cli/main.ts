// The isobox command line: one entry per command with its usage and flags, so that
// `isobox <command> --help` shows that command's own, and a mistake prints one line and a hint.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { apiClient } from "./client.ts";
import { deployFile } from "./deploy.ts";
import { deleteFunction, listFunctions, listVersions, rollback, showFunction } from "./functions.ts";
import { listDeliveries, listHooks, replayDelivery, sendDelivery } from "./hooks.ts";
import { invokeFunction } from "./invoke.ts";
import { changeJob, enqueueJob, listJobs, showJob } from "./jobs.ts";
import { showLogs } from "./logs.ts";
import { CliError, output, type Output } from "./output.ts";
import { listRuns, showRun } from "./runs.ts";
import { changeSchedule, listSchedules } from "./schedules.ts";
import { deleteSecret, listSecrets, rotateKey, setSecret } from "./secrets.ts";
import { createKey, createTenant, listKeys, listTenants, revokeKey, tenantQuotas } from "./tenants.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | string[] | undefined>;

interface Command {
  /** Usage lines, each `command args   what it does`. */
  usage: string[];
  options: Options;
  run(positionals: string[], values: Values, out: Output): Promise<void>;
}

const tenant = { tenant: { type: "string" } } as const;
const yes = { yes: { type: "boolean", short: "y" } } as const;
const str = (values: Values, key: string) => values[key] as string | undefined;

/** `sub` of positionals[0] among `subs`, else "list" when there is none. */
function sub(positionals: string[], subs: string[], fallback = "list"): [string, string[]] {
  return subs.includes(positionals[0]) ? [positionals[0], positionals.slice(1)] : [fallback, positionals];
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`${flag}: expected a whole number, got ${JSON.stringify(value)}`, 2);
  return n;
}

function wrong(command: string): never {
  throw new CliError(`${command}: missing or extra arguments`, 2);
}

const COMMANDS: Record<string, Command> = {
  start: {
    usage: ["start [--port N] [--workers N] [--demo] [--data-dir DIR]   run an Isobox node"],
    options: { port: { type: "string", short: "p" }, workers: { type: "string", short: "w" }, demo: { type: "boolean" }, "data-dir": { type: "string" } },
    async run(_, values) {
      const { start } = await import("./start.ts");
      return start({ port: int(str(values, "port"), "--port"), workers: int(str(values, "workers"), "--workers"), demo: values.demo as boolean | undefined, dataDir: str(values, "data-dir") });
    },
  },
  dev: {
    usage: ["dev <file> [--name N] [--tenant T] [--port P] [--env-file F]   deploy, then redeploy on every save; logs and runs stream"],
    options: { name: { type: "string" }, ...tenant, port: { type: "string", short: "p" }, "env-file": { type: "string" }, manifest: { type: "string" } },
    async run(positionals, values) {
      if (positionals.length !== 1) wrong("dev");
      const { dev } = await import("./dev.ts");
      return dev(positionals[0], { name: str(values, "name"), tenant: str(values, "tenant"), port: int(str(values, "port"), "--port"), envFile: str(values, "env-file"), manifest: str(values, "manifest") });
    },
  },
  deploy: {
    usage: ["deploy <file> [--name N] [--tenant T] [--manifest FILE] [--check]   bundle and deploy a function (--check: type-check it first)"],
    options: { name: { type: "string" }, ...tenant, manifest: { type: "string" }, check: { type: "boolean" } },
    async run(positionals, values, out) {
      if (positionals.length !== 1) wrong("deploy");
      await deployFile(apiClient(), out, positionals[0], { name: str(values, "name"), tenant: str(values, "tenant"), manifest: str(values, "manifest"), check: values.check as boolean | undefined });
    },
  },
  functions: {
    usage: [
      "functions [list] [--tenant T]                              the functions, their versions and URLs",
      "functions show|versions <name>                             one function, its manifest; its versions",
      "functions rollback <name> <version>                        serve an earlier version",
      "functions delete <name> [--yes]                            delete a function and all its versions",
    ],
    options: { ...tenant, ...yes },
    async run(positionals, values, out) {
      const [action, args] = sub(positionals, ["list", "show", "versions", "rollback", "delete"]);
      const options = { tenant: str(values, "tenant"), yes: values.yes as boolean | undefined };
      if (action === "list" && args.length === 0) return listFunctions(apiClient(), out, options);
      if (action === "show" && args.length === 1) return showFunction(apiClient(), out, args[0], options);
      if (action === "versions" && args.length === 1) return listVersions(apiClient(), out, args[0], options);
      if (action === "rollback" && args.length === 2) return rollback(apiClient(), out, args[0], int(args[1].replace(/^v/, ""), "version")!, options);
      if (action === "delete" && args.length === 1) return deleteFunction(apiClient(), out, args[0], options);
      wrong(`functions ${action}`);
    },
  },
  invoke: {
    usage: ["invoke <name> [--tenant T] [--path /p] [-X METHOD] [-d DATA] [-H \"K: V\"]   call a function"],
    options: { ...tenant, path: { type: "string" }, method: { type: "string", short: "X" }, data: { type: "string", short: "d" }, header: { type: "string", short: "H", multiple: true } },
    async run(positionals, values, out) {
      if (positionals.length !== 1) wrong("invoke");
      await invokeFunction(apiClient(), out, positionals[0], { tenant: str(values, "tenant"), path: str(values, "path"), method: str(values, "method"), data: str(values, "data"), headers: values.header as string[] | undefined });
    },
  },
  jobs: {
    usage: [
      "jobs [list] [--tenant T] [--function F] [--status S] [--limit N]   jobs with counts by status",
      "jobs show <id>                                             a job, its steps, and each attempt with its run and why it failed",
      "jobs enqueue <name> [--payload JSON] [--key K] [--delay MS] [--wait]   start a job (--wait: until it ends)",
      "jobs cancel|retry <id>                                     stop a job, or run a failed one again",
    ],
    options: { ...tenant, function: { type: "string" }, status: { type: "string" }, limit: { type: "string" }, payload: { type: "string" }, key: { type: "string" }, delay: { type: "string" }, wait: { type: "boolean" } },
    async run(positionals, values, out) {
      const [action, args] = sub(positionals, ["list", "show", "enqueue", "cancel", "retry"]);
      const options = values as Record<string, string | undefined>;
      if (action === "list" && args.length === 0) return listJobs(apiClient(), out, options);
      if (action === "show" && args.length === 1) return showJob(apiClient(), out, args[0], options);
      if (action === "enqueue" && args.length === 1) return enqueueJob(apiClient(), out, args[0], { ...options, wait: values.wait as boolean | undefined });
      if ((action === "cancel" || action === "retry") && args.length === 1) return changeJob(apiClient(), out, action, args[0], options);
      wrong(`jobs ${action}`);
    },
  },
  logs: {
    usage: ["logs <name> [--follow] [--limit N]                          a function's latest log lines; --follow streams new ones"],
    options: { ...tenant, follow: { type: "boolean", short: "f" }, limit: { type: "string" } },
    async run(positionals, values, out) {
      if (positionals.length !== 1) wrong("logs");
      return showLogs(apiClient(), out, positionals[0], { tenant: str(values, "tenant"), follow: values.follow as boolean | undefined, limit: str(values, "limit") });
    },
  },
  runs: {
    usage: [
      "runs [--function F] [--trigger T] [--status S] [--job ID] [--since T] [--until T] [--limit N]   runs, newest first (T: ISO 8601)",
      "runs show <id>                                             a run: its steps as a timeline, error, logs",
    ],
    options: { ...tenant, function: { type: "string" }, trigger: { type: "string" }, status: { type: "string" }, job: { type: "string" }, since: { type: "string" }, until: { type: "string" }, limit: { type: "string" } },
    async run(positionals, values, out) {
      const [action, args] = sub(positionals, ["list", "show"]);
      if (action === "list" && args.length === 0) return listRuns(apiClient(), out, values as Record<string, string | undefined>);
      if (action === "show" && args.length === 1) return showRun(apiClient(), out, args[0], { tenant: str(values, "tenant") });
      wrong(`runs ${action}`);
    },
  },
  schedules: {
    usage: [
      "schedules [--tenant T]                                     schedules with their next fires and last run",
      "schedules trigger|pause|resume <function.name>             fire one now, pause, resume",
    ],
    options: { ...tenant },
    async run(positionals, values, out) {
      const [action, args] = sub(positionals, ["list", "trigger", "pause", "resume"]);
      if (action === "list" && args.length === 0) return listSchedules(apiClient(), out, { tenant: str(values, "tenant") });
      if ((action === "trigger" || action === "pause" || action === "resume") && args.length === 1) return changeSchedule(apiClient(), out, action, args[0], { tenant: str(values, "tenant") });
      wrong(`schedules ${action}`);
    },
  },
  hooks: {
    usage: [
      "hooks [--tenant T]                                         each webhook's URL to paste into the provider",
      "hooks events [--function F] [--status accepted|rejected]   deliveries, with why refused ones were",
      "hooks replay <event id>                                    run a delivery again",
      "hooks send <function> <hook> [--payload JSON|@file]        a test delivery signed as the hook's provider signs",
    ],
    options: { ...tenant, function: { type: "string" }, status: { type: "string" }, payload: { type: "string" } },
    async run(positionals, values, out) {
      const [action, args] = sub(positionals, ["list", "events", "replay", "send"]);
      const options = values as Record<string, string | undefined>;
      if (action === "list" && args.length === 0) return listHooks(apiClient(), out, options);
      if (action === "events" && args.length === 0) return listDeliveries(apiClient(), out, options);
      if (action === "replay" && args.length === 1) return replayDelivery(apiClient(), out, args[0], options);
      if (action === "send" && args.length === 2) return sendDelivery(apiClient(), out, args[0], args[1], options);
      wrong(`hooks ${action}`);
    },
  },
  secrets: {
    usage: [
      "secrets set <NAME> [--tenant T] [--value V]                set a secret (typed unseen, or from standard input)",
      "secrets list [--tenant T]                                  secret names, never values",
      "secrets delete <NAME> [--yes]                              delete a secret",
      "secrets rotate-key                                         re-encrypt every secret under the first master key",
    ],
    options: { ...tenant, value: { type: "string" }, ...yes },
    async run(positionals, values, out) {
      const [action, args] = sub(positionals, ["set", "list", "delete", "rotate-key"]);
      const options = { tenant: str(values, "tenant"), value: str(values, "value"), yes: values.yes as boolean | undefined };
      if (action === "set" && args.length === 1) return setSecret(apiClient(), out, args[0], options);
      if (action === "list" && args.length === 0) return listSecrets(apiClient(), out, options);
      if (action === "delete" && args.length === 1) return deleteSecret(apiClient(), out, args[0], options);
      if (action === "rotate-key" && args.length === 0) return rotateKey(apiClient(), out);
      wrong(`secrets ${action}`);
    },
  },
  tenants: {
    usage: [
      "tenants [list]                                             tenants and their quotas (admin)",
      "tenants create <name>                                      a tenant and its first API key, shown once (admin)",
      "tenants quotas <name> [--set name=number ...]              show or set quotas, e.g. --set requestsPerSecond=10 (admin)",
    ],
    options: { set: { type: "string", multiple: true } },
    async run(positionals, values, out) {
      const [action, args] = sub(positionals, ["list", "create", "quotas"]);
      if (action === "list" && args.length === 0) return listTenants(apiClient(), out);
      if (action === "create" && args.length === 1) return createTenant(apiClient(), out, args[0]);
      if (action === "quotas" && args.length === 1) return tenantQuotas(apiClient(), out, args[0], values.set as string[] | undefined);
      wrong(`tenants ${action}`);
    },
  },
  keys: {
    usage: [
      "keys [list] [--tenant T]                                   a tenant's API keys (ids and prefixes)",
      "keys create [--tenant T]                                   a new API key, shown once",
      "keys revoke <id> [--tenant T] [--yes]                      revoke a key",
    ],
    options: { ...tenant, ...yes },
    async run(positionals, values, out) {
      const [action, args] = sub(positionals, ["list", "create", "revoke"]);
      const options = { tenant: str(values, "tenant"), yes: values.yes as boolean | undefined };
      if (action === "list" && args.length === 0) return listKeys(apiClient(), out, options);
      if (action === "create" && args.length === 0) return createKey(apiClient(), out, options);
      if (action === "revoke" && args.length === 1) return revokeKey(apiClient(), out, args[0], options);
      wrong(`keys ${action}`);
    },
  },
};

const GLOBAL = `Usage: isobox <command> [options]

Commands:
${Object.values(COMMANDS).flatMap((command) => command.usage).map((line) => `  ${line}`).join("\n")}

Options: --json (machine-readable output), --help (a command's own usage)
Remote use: ISOBOX_URL (default http://localhost:8787) and ISOBOX_TOKEN.`;

function commandHelp(name: string, command: Command): string {
  const flags = Object.entries({ ...command.options, json: { type: "boolean" } }).map(([flag, spec]) => `--${flag}${(spec as { type: string }).type === "string" ? " <value>" : ""}`);
  return `Usage:\n${command.usage.map((line) => `  isobox ${line}`).join("\n")}\n\nFlags: ${flags.join(", ")}`;
}

async function run(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(GLOBAL);
    return;
  }
  const command = COMMANDS[name];
  if (!command) throw new CliError(`Unknown command "${name}"`, 2, "isobox --help lists the commands");
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(commandHelp(name, command));
    return;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { json: { type: "boolean" }, ...command.options }, allowPositionals: true, strict: true });
  } catch (error) {
    // Node's message goes on about positionals that start with "-": its first sentence says it.
    throw new CliError(`${name}: ${(error as Error).message.split(/(?<=\.) /)[0]}`, 2, `isobox ${name} --help shows its usage`);
  }
  try {
    await command.run(parsed.positionals, parsed.values as Values, output(!!parsed.values.json));
  } catch (error) {
    if (error instanceof CliError && error.exitCode === 2 && error.hint === undefined) throw new CliError(error.message, 2, `isobox ${name} --help shows its usage`);
    throw error;
  }
}

export async function main(argv: string[]): Promise<void> {
  try {
    await run(argv);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`isobox: ${message}`);
    if (error instanceof CliError && error.hint) console.error(`hint: ${error.hint}`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  }
}
