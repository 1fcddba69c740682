// Globals whose implementation loads on first use. URL (core-js) and the streams polyfill are the
// two largest parts of the runtime's heap (~400 KB and ~170 KB); many functions never touch them,
// and an idle isolate should stay small. Both packages are CommonJS, which esbuild wraps in a
// function that runs at the first require(): requiring them inside a loader defers their whole
// initialisation to the first access.
import { defineGlobal } from "./util.ts";

let loading = 0;

/**
 * Runs a loader. While it runs the lazy globals read as undefined: a library that looks for a
 * native implementation (core-js reads globalThis.URL) must find none, and must not re-enter the
 * loader that is still running.
 */
export function whileLoading<T>(load: () => T): T {
  loading++;
  try {
    return load();
  } finally {
    loading--;
  }
}

/**
 * An accessor on the global object that loads the value, then replaces itself with the ordinary
 * writable, configurable, non-enumerable data property browsers have. Assigning before the first
 * read simply installs the assigned value.
 */
export function defineLazyGlobal(name: string, load: () => unknown): void {
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get() {
      if (loading > 0) return undefined;
      const value = load();
      defineGlobal(name, value);
      return value;
    },
    set(value) {
      defineGlobal(name, value);
    },
  });
}
