// A minimal `performance` (High Resolution Time): now() and timeOrigin. V8 gives the isolate only
// Date.now(), so the resolution is one millisecond — which also denies timing side channels.

export function createPerformance(): object {
  const timeOrigin = Date.now();
  const performance = {
    get timeOrigin(): number {
      return timeOrigin;
    },
    now(): number {
      return Date.now() - timeOrigin;
    },
    toJSON(): object {
      return { timeOrigin };
    },
  };
  Object.defineProperty(performance, Symbol.toStringTag, { value: "Performance", configurable: true });
  return performance;
}
