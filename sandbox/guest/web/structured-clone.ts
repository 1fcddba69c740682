// structuredClone on @ungap/structured-clone (3 KB): serialize to records, check them, rebuild.
// The check keeps the polyfill from reviving arbitrary globals by class name (it would call
// `new globalThis[name](...)`), and turns every failure into the spec's DataCloneError.
// Known gaps: Promise, WeakMap and platform objects (Headers, Blob, ...) clone to plain objects
// instead of throwing, typed arrays do not share a cloned buffer, and `transfer` is ignored.
import { deserialize, serialize, type Record } from "@ungap/structured-clone";
import { DOMException } from "./dom-exception.ts";
import { requireArgs } from "./util.ts";

/** Record types the polyfill names by class; the other kinds are numbered. */
const CLONEABLE_CLASSES = new Set([
  "ArrayBuffer", "DataView", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
  "Int32Array", "Uint32Array", "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
  "BigInt", "Boolean", "Number", "String", "-0",
]);
const ERROR_KIND = 7; // @ungap/structured-clone's ERROR record type
const ERROR_NAMES = new Set(["Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError"]);

function dataCloneError(message: string): DOMException {
  return new DOMException(message, "DataCloneError");
}

export function structuredClone<T>(value: T, options?: { transfer?: unknown[] }): T {
  requireArgs(arguments.length, 1, "structuredClone");
  void options;
  let records: Record[];
  try {
    records = serialize(value);
  } catch (error) {
    throw dataCloneError(error instanceof Error ? error.message.replace("unable to serialize", "could not clone a") : String(error));
  }
  for (const record of records) {
    const [type, content] = record;
    if (typeof type === "string" && !CLONEABLE_CLASSES.has(type)) throw dataCloneError(`${type} object could not be cloned.`);
    // Errors revive by name: only the standard constructors may be used (the spec's rule too).
    if (type === ERROR_KIND && !ERROR_NAMES.has(content.name)) record[1] = { ...content, name: "Error" };
  }
  try {
    return deserialize(records) as T;
  } catch (error) {
    throw dataCloneError(error instanceof Error ? error.message : String(error));
  }
}
