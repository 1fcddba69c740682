// Deploy-time check of a module, the way the pool will load it: it must compile, import nothing,
// evaluate within its limits and default-export at least one handler. It runs the module's
// top-level code in an isolate of its own, disposed after, which serves no invocation.
import { SandboxError } from "./limits.ts";
import { Sandbox } from "./sandbox.ts";

export interface ModuleProblem {
  message: string;
  /** Where, in the module as given (1-based), when the error names a place. */
  line?: number;
  column?: number;
}

export type ModuleReport = { ok: true; handlers: string[] } | { ok: false; problem: ModuleProblem };

/** V8 appends "[file:line:column]" to syntax errors. */
function syntaxPosition(message: string): { line?: number; column?: number } {
  const match = /\[[^\]]*:(\d+):(\d+)\]$/.exec(message);
  return match ? { line: Number(match[1]), column: Number(match[2]) } : {};
}

/** The first frame of a stack in `filename`. */
function framePosition(stack: string | undefined, filename: string): { line?: number; column?: number } {
  const at = stack?.indexOf(`${filename}:`) ?? -1;
  if (at < 0) return {};
  const match = /^:(\d+):(\d+)/.exec(stack!.slice(at + filename.length));
  return match ? { line: Number(match[1]), column: Number(match[2]) } : {};
}

const LIMIT_MESSAGES: Partial<Record<SandboxError["code"], string>> = {
  ERR_CPU_LIMIT: "The module's top-level code ran past its CPU time",
  ERR_MEMORY_LIMIT: "The module's top-level code ran past its memory limit",
};

export async function checkModule(code: string, filename: string, limits: { memoryMb: number; timeoutMs: number }): Promise<ModuleReport> {
  const sandbox = await Sandbox.boot(limits.memoryMb);
  try {
    return { ok: true, handlers: await sandbox.load(code, filename, limits.timeoutMs) };
  } catch (error) {
    if (!(error instanceof SandboxError)) throw error;
    if (error.code === "ERR_COMPILE") return { ok: false, problem: { message: error.message.replace(/ \[[^\]]*\]$/, ""), ...syntaxPosition(error.message) } };
    const limit = LIMIT_MESSAGES[error.code];
    if (limit) return { ok: false, problem: { message: limit } };
    // A top-level await that has not settled leaves the default export unset.
    if (/^ReferenceError: Cannot access '.+' before initialization$/.test(error.message)) {
      return { ok: false, problem: { message: `${error.message}: the module's top-level code awaits something that does not settle while it loads (a fetch, a timer); do that inside a handler` } };
    }
    return { ok: false, problem: { message: error.message, ...framePosition(error.guestStack, filename) } };
  } finally {
    sandbox.dispose();
  }
}
