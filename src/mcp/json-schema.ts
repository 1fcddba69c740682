// JSON Schema (2020-12) for tool arguments and results, with ajv. A schema is a tenant's code that
// runs on the host: its `pattern`s run in V8's linear-time RegExp engine (no backtracking, so no
// pattern can stall the event loop), and each function version gets an engine of its own (an `$id`
// of one tenant's schema can never resolve in another's).
import { setFlagsFromString } from "node:v8";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

setFlagsFromString("--enable-experimental-regexp-engine");

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const MAX_ENGINES = 500;

export type Check = (value: unknown) => string | undefined;

/**
 * A RegExp that runs in linear time, or a clear refusal of the pattern. The linear engine has no
 * `u` mode: patterns match UTF-16 code units, and \p{…} classes are refused.
 */
function linearRegExp(pattern: string, flags: string): RegExp {
  try {
    return new RegExp(pattern, `${flags.replace("u", "")}l`);
  } catch (error) {
    throw new Error(`pattern ${JSON.stringify(pattern.slice(0, 100))} is refused: ${(error as Error).message} (patterns may not use backreferences, lookaround or \\p{…} classes)`);
  }
}

function engine(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true, code: { regExp: linearRegExp as never } });
  return addFormats(ajv);
}

/** The schema compiled to a check whose answer names the first failing field, or a compile error. */
export function compileSchema(schema: Record<string, unknown>): Check {
  const validate: ValidateFunction = engine().compile(schema);
  return (value) => {
    if (validate(value)) return undefined;
    const first = validate.errors?.[0];
    if (!first) return "does not match the schema";
    const at = first.instancePath === "" ? "(the arguments)" : first.instancePath.slice(1).replaceAll("/", ".");
    const extra = first.keyword === "additionalProperties" ? ` (${String((first.params as { additionalProperty?: unknown }).additionalProperty)})` : "";
    return `${at}: ${first.message ?? "is invalid"}${extra}`;
  };
}

/** Compiled checks of function versions' schemas, by a key naming the version and the schema. */
export class SchemaChecks {
  private readonly checks = new Map<string, Check>();

  get(key: string, schema: Record<string, unknown>): Check {
    let check = this.checks.get(key);
    if (check) return check;
    if (this.checks.size >= MAX_ENGINES) this.checks.clear();
    check = compileSchema(schema);
    this.checks.set(key, check);
    return check;
  }
}
