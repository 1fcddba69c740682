// What the names of things may be: tenants and functions (they are path segments and keys of
// every table), webhooks and schedules of a manifest, secrets (environment-style names).
import { IsoboxError } from "./errors.ts";

/** A tenant's or a function's name: 1-63 of a-z, 0-9, - and _, starting with a letter or digit. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** A webhook's or a schedule's name within its manifest: the same, in either case. */
export const PART_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/i;
/** A secret's name: UPPER_SNAKE_CASE. */
export const SECRET_NAME_PATTERN = /^[A-Z_][A-Z0-9_]{0,127}$/;

const RULES = {
  tenant: [NAME_PATTERN, 'use 1-63 of a-z, 0-9, "-" and "_", starting with a letter or digit'],
  function: [NAME_PATTERN, 'use 1-63 of a-z, 0-9, "-" and "_", starting with a letter or digit'],
  secret: [SECRET_NAME_PATTERN, "use UPPER_SNAKE_CASE"],
} as const;

export type NameKind = keyof typeof RULES;

/** A 400 naming what is wrong with `name` as a `kind`'s name. */
export function checkName(kind: NameKind, name: string): void {
  const [pattern, hint] = RULES[kind];
  if (!pattern.test(name)) throw new IsoboxError("ERR_BAD_REQUEST", `Invalid ${kind} name "${name.slice(0, 80)}": ${hint}`);
}
