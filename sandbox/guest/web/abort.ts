// AbortController and AbortSignal (DOM Standard), on the EventTarget of events.ts.
import { abortError, DOMException } from "./dom-exception.ts";
import { Event, EventTarget, getEventAttributeValue, setEventAttributeValue } from "./events.ts";
import { startTimer } from "./timers.ts";
import { enumerableMembers, illegalConstructor, INTERNAL, requireArgs, tagClass } from "./util.ts";

type Algorithm = () => void;
type AbortListener = ((this: AbortSignal, event: Event) => void) | null;

/**
 * Dependent signals (AbortSignal.any, Request.signal) that have abort listeners of their own and
 * so must outlive the references user code holds: a source signal only keeps weak references
 * to its dependents, so that a long-lived controller does not accumulate every signal ever made
 * from it.
 */
const pinned = new Set<AbortSignal>();

let internals: {
  abort(signal: AbortSignal, reason: unknown): void;
  follow(dependent: AbortSignal, sources: Iterable<unknown>): void;
  addAlgorithm(signal: AbortSignal, algorithm: Algorithm): () => void;
};

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason: unknown = undefined;
  #algorithms: Set<Algorithm> | null = null;
  /** Weak references to the signals that follow this one. */
  #dependents: Set<WeakRef<AbortSignal>> | null = null;
  #sweepAt = 64;
  /** Set on signals made by any(): the non-dependent signals they follow. */
  #sources: AbortSignal[] | null = null;

  constructor(token?: typeof INTERNAL) {
    if (token !== INTERNAL) illegalConstructor();
    super();
  }

  static abort(reason?: unknown): AbortSignal {
    const signal = new AbortSignal(INTERNAL);
    signal.#aborted = true;
    signal.#reason = reason === undefined ? abortError() : reason;
    return signal;
  }

  static timeout(milliseconds: number): AbortSignal {
    requireArgs(arguments.length, 1, "AbortSignal.timeout");
    const ms = Number(milliseconds);
    // WebIDL [EnforceRange] unsigned long long.
    if (!Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER) {
      throw new TypeError(`AbortSignal.timeout: ${String(milliseconds)} is outside the accepted range`);
    }
    const signal = new AbortSignal(INTERNAL);
    startTimer(() => signalAbort(signal, new DOMException("The operation was aborted due to timeout", "TimeoutError")), Math.trunc(ms), false);
    return signal;
  }

  static any(signals: Iterable<AbortSignal>): AbortSignal {
    requireArgs(arguments.length, 1, "AbortSignal.any");
    const list = Array.from(signals as Iterable<unknown>);
    for (const item of list) {
      if (!(item instanceof AbortSignal)) throw new TypeError("AbortSignal.any: every item must be an AbortSignal");
    }
    const signal = new AbortSignal(INTERNAL);
    internals.follow(signal, list);
    return signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  get onabort(): AbortListener {
    return getEventAttributeValue(this, "abort") as AbortListener;
  }

  set onabort(listener: AbortListener) {
    setEventAttributeValue(this, "abort", listener as ((event: Event) => void) | null);
    if (typeof listener === "function") this.#pinIfDependent();
  }

  addEventListener(...args: Parameters<EventTarget["addEventListener"]>): void {
    super.addEventListener(...args);
    if (args[0] === "abort" && args[1]) this.#pinIfDependent();
  }

  #pinIfDependent(): void {
    if (this.#sources !== null && !this.#aborted) pinned.add(this);
  }

  static {
    internals = {
      abort(signal, reason) {
        if (signal.#aborted) return;
        signal.#aborted = true;
        signal.#reason = reason === undefined ? abortError() : reason;
        // Every dependent is aborted before any event fires, so listeners see a consistent state.
        const dependents: AbortSignal[] = [];
        for (const ref of signal.#dependents ?? []) {
          const dependent = ref.deref();
          if (!dependent || dependent.#aborted) continue;
          dependent.#aborted = true;
          dependent.#reason = signal.#reason;
          dependents.push(dependent);
        }
        signal.#dependents = null;
        runAbortSteps(signal);
        for (const dependent of dependents) runAbortSteps(dependent);
      },

      follow(dependent, sources) {
        dependent.#sources = [];
        for (const source of sources as Iterable<AbortSignal>) {
          if (source.#aborted) {
            dependent.#aborted = true;
            dependent.#reason = source.#reason;
            dependent.#sources = null;
            return;
          }
        }
        // A dependent follows the roots of the signals it is given, never other dependents.
        for (const source of sources as Iterable<AbortSignal>) {
          for (const root of source.#sources ?? [source]) {
            if (dependent.#sources.includes(root)) continue;
            dependent.#sources.push(root);
            root.#addDependent(dependent);
          }
        }
      },

      addAlgorithm(signal, algorithm) {
        if (signal.#aborted) return () => {};
        (signal.#algorithms ??= new Set()).add(algorithm);
        return () => signal.#algorithms?.delete(algorithm);
      },
    };

    function runAbortSteps(signal: AbortSignal): void {
      pinned.delete(signal);
      const algorithms = signal.#algorithms;
      signal.#algorithms = null;
      for (const algorithm of algorithms ?? []) algorithm();
      signal.dispatchEvent(new Event("abort"));
    }
  }

  #addDependent(dependent: AbortSignal): void {
    const dependents = (this.#dependents ??= new Set());
    dependents.add(new WeakRef(dependent));
    if (dependents.size >= this.#sweepAt) {
      for (const ref of dependents) if (!ref.deref()) dependents.delete(ref);
      this.#sweepAt = Math.max(64, dependents.size * 2);
    }
  }
}

/** Aborts a signal (the DOM's "signal abort"): dependents, abort algorithms, then the event. */
export function signalAbort(signal: AbortSignal, reason: unknown): void {
  internals.abort(signal, reason);
}

/** A new signal that aborts when any of the given ones does (the DOM's "dependent signal"). */
export function dependentSignal(sources: AbortSignal[]): AbortSignal {
  const signal = new AbortSignal(INTERNAL);
  internals.follow(signal, sources);
  return signal;
}

/** Runs `algorithm` when the signal aborts, before its abort event; returns an undo function. */
export function onAbort(signal: AbortSignal, algorithm: Algorithm): () => void {
  return internals.addAlgorithm(signal, algorithm);
}

export class AbortController {
  #signal = new AbortSignal(INTERNAL);

  get signal(): AbortSignal {
    return this.#signal;
  }

  abort(reason?: unknown): void {
    signalAbort(this.#signal, reason);
  }
}

for (const cls of [AbortSignal, AbortController]) enumerableMembers(cls);
tagClass(AbortSignal, "AbortSignal");
tagClass(AbortController, "AbortController");
