// Types for the untyped npm packages the guest runtime bundles.

declare module "base-64" {
  const base64: { encode(input: string): string; decode(input: string): string; version: string };
  export default base64;
}

declare module "core-js-pure/web/url.js" {
  const URL: import("./url.ts").URLConstructor;
  export default URL;
}

declare module "core-js-pure/web/url-search-params.js" {
  const URLSearchParams: import("./url.ts").URLSearchParamsConstructor;
  export default URLSearchParams;
}

declare module "@ungap/structured-clone" {
  /** Records: [type, value] pairs; type is a number for built-in kinds, a class name otherwise. */
  export type Record = [number | string, any];
  export function serialize(value: unknown, options?: { json?: boolean; lossy?: boolean }): Record[];
  export function deserialize(records: Record[]): unknown;
}
