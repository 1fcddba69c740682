// Deploy-time check of a module: it must parse and import nothing. Runs no user code.
import ivm from "isolated-vm";
import { SandboxError } from "./limits.ts";
import { compileModule } from "./guest-isolate.ts";

export interface CompileProblem {
  message: string;
  line?: number;
  column?: number;
}

/** V8 appends "[file:line:column]" to syntax errors. */
function position(message: string): { line?: number; column?: number } {
  const match = /\[[^\]]*:(\d+):(\d+)\]$/.exec(message);
  return match ? { line: Number(match[1]), column: Number(match[2]) } : {};
}

/** Returns undefined when the module compiles, else what is wrong and where. */
export async function checkModule(code: string, filename: string): Promise<CompileProblem | undefined> {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  try {
    const module = await compileModule(isolate, code, filename);
    const [specifier] = module.dependencySpecifiers;
    if (specifier !== undefined) {
      return { message: `The module imports "${specifier}"; deploy one self-contained module (isobox deploy bundles imports with esbuild)` };
    }
    return undefined;
  } catch (error) {
    if (!(error instanceof SandboxError)) throw error;
    return { message: error.message.replace(/ \[[^\]]*\]$/, ""), ...position(error.message) };
  } finally {
    isolate.dispose();
  }
}
