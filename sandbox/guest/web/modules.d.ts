// Types for the untyped npm packages the guest runtime bundles.

declare module "base-64" {
  const base64: { encode(input: string): string; decode(input: string): string; version: string };
  export default base64;
}

// The lazily loaded CommonJS packages (see lazy.ts). esbuild resolves these require() calls at
// bundle time; only these ids are declared, so no other require() type-checks.
declare function require(id: "core-js-pure/web/url.js"): import("./url.ts").URLConstructor;
declare function require(id: "core-js-pure/web/url-search-params.js"): import("./url.ts").URLSearchParamsConstructor;
declare function require(id: "web-streams-polyfill/dist/ponyfill.js"): typeof import("web-streams-polyfill");

declare module "@ungap/structured-clone" {
  /** Records: [type, value] pairs; type is a number for built-in kinds, a class name otherwise. */
  export type Record = [number | string, any];
  export function serialize(value: unknown, options?: { json?: boolean; lossy?: boolean }): Record[];
  export function deserialize(records: Record[]): unknown;
}

// event-target-shim ships types, but its package.json "exports" hide them from TypeScript.
declare module "event-target-shim" {
  export interface EventInit {
    bubbles?: boolean;
    cancelable?: boolean;
    composed?: boolean;
  }
  export class Event {
    static readonly NONE: number;
    static readonly CAPTURING_PHASE: number;
    static readonly AT_TARGET: number;
    static readonly BUBBLING_PHASE: number;
    constructor(type: string, eventInitDict?: EventInit);
    readonly type: string;
    readonly target: EventTarget | null;
    readonly currentTarget: EventTarget | null;
    readonly eventPhase: number;
    readonly bubbles: boolean;
    readonly cancelable: boolean;
    readonly defaultPrevented: boolean;
    readonly composed: boolean;
    readonly isTrusted: boolean;
    readonly timeStamp: number;
    cancelBubble: boolean;
    returnValue: boolean;
    composedPath(): EventTarget[];
    stopPropagation(): void;
    stopImmediatePropagation(): void;
    preventDefault(): void;
  }
  export type EventListener = ((event: Event) => void) | { handleEvent(event: Event): void };
  export interface AddEventListenerOptions {
    capture?: boolean;
    passive?: boolean;
    once?: boolean;
    signal?: unknown;
  }
  export class EventTarget {
    constructor();
    addEventListener(type: string, callback?: EventListener | null, options?: boolean | AddEventListenerOptions): void;
    removeEventListener(type: string, callback?: EventListener | null, options?: boolean | { capture?: boolean }): void;
    dispatchEvent(event: Event): boolean;
  }
  export function setErrorHandler(handler: ((error: Error) => void) | undefined): void;
  export function getEventAttributeValue(target: EventTarget, type: string): EventListener | null;
  export function setEventAttributeValue(target: EventTarget, type: string, callback: EventListener | null): void;
}
