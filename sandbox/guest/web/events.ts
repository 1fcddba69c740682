// Event and EventTarget from event-target-shim (spec-faithful listener semantics: once, passive,
// signal, stopImmediatePropagation, handleEvent objects), plus CustomEvent.
import { Event, EventTarget, setErrorHandler } from "event-target-shim";
import { reportError } from "./console.ts";
import { enumerableMembers, tagClass } from "./util.ts";

export { Event, EventTarget, getEventAttributeValue, setEventAttributeValue } from "event-target-shim";

/** A throwing listener is reported, like an uncaught exception, and dispatch goes on. */
export function routeListenerErrors(): void {
  setErrorHandler((error) => reportError(error));
}

export class CustomEvent<T = unknown> extends Event {
  #detail: T | null;

  constructor(type: string, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean; detail?: T }) {
    super(type, init);
    this.#detail = init?.detail ?? null;
  }

  get detail(): T | null {
    return this.#detail;
  }
}
enumerableMembers(CustomEvent);
tagClass(CustomEvent, "CustomEvent");
tagClass(Event, "Event");
tagClass(EventTarget, "EventTarget");
