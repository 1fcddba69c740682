// Intl, bounded. Each Intl object holds ICU memory outside the V8 heap, where the isolate's
// memory limit does not look: 200,000 DateTimeFormats kept by a 32 MB function grew the node by
// 5.3 GB, and 100,000 made and dropped in a loop by 0.9 GB before V8 collected them. So the
// guest's Intl constructors (and the toLocaleString family, which make ICU objects of their own)
// hand out plain wrappers over one real object per distinct locales and options, shared by every
// wrapper of that combination and kept a while after the last one is dropped: a formatter made
// anew for every request costs nothing more, and at most MAX_ALIVE real objects exist at once
// (counted until V8 collects them), whatever the guest keeps or drops.

const RealIntl = Intl;
/** Real objects kept for reuse though no wrapper holds them, least recently used first. */
const CACHE_SIZE = 64;
/**
 * Real objects that may exist at once (~5–30 KB of ICU memory each), those no longer used but not
 * yet collected by V8 included: past it, a new locale and options combination is refused.
 */
export const MAX_ALIVE = 256;

type Real = Record<string | symbol, unknown>;
type RealConstructor = new (locales?: unknown, options?: unknown) => Real;

// Captured now: user code may replace the prototypes' methods later.
const apply = Reflect.apply;
const { get: mapGet, set: mapSet, delete: mapDelete, keys: mapKeys } = Map.prototype;
const deref = WeakRef.prototype.deref;
const MadeWeakRef = WeakRef;
const { stringify } = JSON;

/** Every real object alive, by key: one per combination however many wrappers use it. */
const byKey = new Map<string, WeakRef<Real>>();
const recent = new Map<string, Real>();
let alive = 0;
const collected = new FinalizationRegistry<string>((key) => {
  alive--;
  const ref = apply(mapGet, byKey, [key]) as WeakRef<Real> | undefined;
  if (ref && apply(deref, ref, []) === undefined) apply(mapDelete, byKey, [key]);
});
const track = collected.register.bind(collected) as (target: object, held: string) => void;

/** The real object for a key: the one alive, or a new one (counted). */
function real(key: string, make: () => Real): Real {
  const ref = apply(mapGet, byKey, [key]) as WeakRef<Real> | undefined;
  let found = ref && (apply(deref, ref, []) as Real | undefined);
  if (!found) {
    if (alive >= MAX_ALIVE) {
      throw new RangeError(`Intl: more than ${MAX_ALIVE} distinct formatters at once; reuse formatters instead of making one per locale and option combination`);
    }
    found = make();
    alive++;
    track(found, key);
    apply(mapSet, byKey, [key, new MadeWeakRef(found)]);
  }
  apply(mapDelete, recent, [key]);
  apply(mapSet, recent, [key, found]);
  if (recent.size > CACHE_SIZE) apply(mapDelete, recent, [(apply(mapKeys, recent, []) as IterableIterator<string>).next().value]);
  return found;
}

/** Locales as a key: a string, a list, or a wrapped Intl.Locale. */
function localesKey(locales: unknown): string {
  if (locales === undefined) return "";
  if (typeof locales === "string") return locales;
  if (Array.isArray(locales)) {
    let key = "[";
    for (let i = 0; i < locales.length; i++) key += `${localesKey(locales[i])},`;
    return key;
  }
  return String(locales);
}

/** Options read once into a plain object (strings for anything but primitives), and its key. */
function snapshot(options: unknown): { options: Record<string, unknown> | undefined; key: string } {
  if (options === undefined) return { options: undefined, key: "" };
  if (typeof options !== "object" || options === null) return { options: options as never, key: `!${String(options)}` };
  const plain: Record<string, unknown> = {};
  for (const name in options) {
    const value = (options as Record<string, unknown>)[name];
    plain[name] = value === null || typeof value === "boolean" || typeof value === "number" || typeof value === "string" || value === undefined ? value : String(value);
  }
  return { options: plain, key: stringify(plain) };
}

interface Wrapped {
  readonly real: Real;
  bound?: Map<string, Function>;
}

const wrapped = new WeakMap<object, Wrapped>();

function stateOf(self: unknown, name: string): Wrapped {
  const state = typeof self === "object" && self !== null ? wrapped.get(self) : undefined;
  if (!state) throw new TypeError(`Method Intl.${name} called on an incompatible receiver`);
  return state;
}

function realOf(self: unknown, name: string): Real {
  return stateOf(self, name).real;
}

/** Segments hold an ICU break iterator: the wrapper reads them once into the heap. */
function segmentsOf(segments: Iterable<Record<string, unknown>>): object {
  const list: Record<string, unknown>[] = [];
  for (const segment of segments) list[list.length] = segment;
  return {
    containing(index = 0): Record<string, unknown> | undefined {
      const at = Math.trunc(Number(index)) || 0;
      for (let i = 0; i < list.length; i++) {
        const { index: start, segment } = list[i] as { index: number; segment: string };
        if (at >= start && at < start + segment.length) return list[i];
      }
      return undefined;
    },
    [Symbol.iterator]: () => list[Symbol.iterator](),
  };
}

function wrapConstructor(name: string, Real: RealConstructor): Function {
  const wrapper = function (this: unknown, locales?: unknown, options?: unknown): object {
    const { options: plain, key: optionsKey } = snapshot(options);
    const localesArg = Array.isArray(locales) ? locales.map((locale) => (typeof locale === "object" && locale !== null ? String(locale) : locale)) : typeof locales === "object" && locales !== null ? String(locales) : locales;
    const key = `${name}\u0000${localesKey(localesArg)}\u0000${optionsKey}`;
    // Made (or found) now, so bad locales or options throw here as the real constructor would.
    const made = real(key, () => new Real(localesArg, plain));
    const self = Object.create(wrapper.prototype) as object;
    wrapped.set(self, { real: made });
    return self;
  } as unknown as { prototype: object; supportedLocalesOf?: unknown };
  Object.defineProperty(wrapper, "name", { value: name });
  const proto = wrapper.prototype;
  const realProto = Real.prototype as object;
  for (const property of Reflect.ownKeys(realProto)) {
    if (property === "constructor") continue;
    const descriptor = Reflect.getOwnPropertyDescriptor(realProto, property)!;
    if (property === Symbol.toStringTag) {
      Object.defineProperty(proto, property, descriptor);
      continue;
    }
    const label = `${name}.prototype.${String(property)}`;
    if (descriptor.get) {
      // format and compare are getters returning a bound function: one per wrapper, as the real one.
      const bindsFunction = BOUND_GETTERS.has(`${name}.${String(property)}`);
      Object.defineProperty(proto, property, {
        configurable: true,
        enumerable: false,
        get(this: unknown) {
          if (!bindsFunction) return realOf(this, label)[property];
          const state = stateOf(this, label);
          state.bound ??= new Map();
          let fn = state.bound.get(String(property));
          if (!fn) {
            const bound = state.real[property] as Function;
            fn = (...args: unknown[]) => bound(...args);
            state.bound.set(String(property), fn);
          }
          return fn;
        },
      });
    } else if (typeof descriptor.value === "function") {
      const method = descriptor.value as Function;
      const call = function (this: unknown, ...args: unknown[]): unknown {
        const result = method.apply(realOf(this, label), args);
        if (name === "Segmenter" && property === "segment") return segmentsOf(result as Iterable<Record<string, unknown>>);
        if (name === "Locale" && result instanceof Real) return new (wrapper as unknown as RealConstructor)(String(result));
        return result;
      };
      Object.defineProperty(call, "name", { value: String(property) });
      Object.defineProperty(proto, property, { configurable: true, enumerable: false, writable: true, value: call });
    }
  }
  if ("supportedLocalesOf" in Real) {
    Object.defineProperty(wrapper, "supportedLocalesOf", { configurable: true, writable: true, value: (Real as unknown as { supportedLocalesOf: Function }).supportedLocalesOf });
  }
  return wrapper as unknown as Function;
}

/** Getters that return a function bound to the object. */
const BOUND_GETTERS = new Set(["DateTimeFormat.format", "NumberFormat.format", "Collator.compare"]);

const CONSTRUCTORS = ["DateTimeFormat", "NumberFormat", "Collator", "PluralRules", "RelativeTimeFormat", "ListFormat", "DisplayNames", "Segmenter", "Locale", "DurationFormat"];

const DATE_FIELDS = ["weekday", "year", "month", "day"];
const TIME_FIELDS = ["dayPeriod", "hour", "minute", "second", "fractionalSecondDigits"];

/** ECMA-402's ToDateTimeOptions: the fields toLocaleString and its kin show when none are named. */
function dateTimeOptions(options: unknown, required: "any" | "date" | "time", defaults: "all" | "date" | "time"): Record<string, unknown> {
  const plain = snapshot(options).options ?? {};
  let needDefaults = plain.dateStyle === undefined && plain.timeStyle === undefined;
  if (required !== "time") for (const field of DATE_FIELDS) if (plain[field] !== undefined) needDefaults = false;
  if (required !== "date") for (const field of TIME_FIELDS) if (plain[field] !== undefined) needDefaults = false;
  if (required === "date" && plain.timeStyle !== undefined) throw new TypeError("Invalid option : timeStyle");
  if (required === "time" && plain.dateStyle !== undefined) throw new TypeError("Invalid option : dateStyle");
  if (needDefaults && defaults !== "time") plain.year = plain.month = plain.day = "numeric";
  if (needDefaults && defaults !== "date") plain.hour = plain.minute = plain.second = "numeric";
  return plain;
}

function defineMethod(target: object, name: string, fn: Function): void {
  Object.defineProperty(fn, "name", { value: name });
  Object.defineProperty(target, name, { configurable: true, enumerable: false, writable: true, value: fn });
}

/** The locale-sensitive methods of Date, Number, BigInt and String, through the same cache. */
function routeLocaleMethods(intl: Record<string, unknown>): void {
  const DateTimeFormat = intl.DateTimeFormat as RealConstructor;
  const NumberFormat = intl.NumberFormat as RealConstructor;
  const Collator = intl.Collator as RealConstructor;
  const timeValue = Date.prototype.valueOf;
  const numberValue = Number.prototype.valueOf;
  const bigintValue = BigInt.prototype.valueOf;
  const dateMethod = (required: "any" | "date" | "time", defaults: "all" | "date" | "time") => function (this: unknown, locales?: unknown, options?: unknown): string {
    const time = timeValue.call(this);
    if (Number.isNaN(time)) return "Invalid Date";
    return (new DateTimeFormat(locales, dateTimeOptions(options, required, defaults)).format as (value: number) => string)(time);
  };
  defineMethod(Date.prototype, "toLocaleString", dateMethod("any", "all"));
  defineMethod(Date.prototype, "toLocaleDateString", dateMethod("date", "date"));
  defineMethod(Date.prototype, "toLocaleTimeString", dateMethod("time", "time"));
  defineMethod(Number.prototype, "toLocaleString", function (this: unknown, locales?: unknown, options?: unknown): string {
    return (new NumberFormat(locales, options).format as (value: number) => string)(numberValue.call(this));
  });
  defineMethod(BigInt.prototype, "toLocaleString", function (this: unknown, locales?: unknown, options?: unknown): string {
    return (new NumberFormat(locales, options).format as (value: bigint) => string)(bigintValue.call(this));
  });
  defineMethod(String.prototype, "localeCompare", function (this: unknown, that: unknown, locales?: unknown, options?: unknown): number {
    if (this === null || this === undefined) throw new TypeError("String.prototype.localeCompare called on null or undefined");
    return (new Collator(locales, options).compare as (a: string, b: string) => number)(String(this), String(that));
  });
}

/** The guest's Intl: the same API, every ICU object behind the bounded cache. */
export function boundedIntl(): object {
  const intl: Record<string, unknown> = {};
  for (const name of CONSTRUCTORS) {
    const Real = (RealIntl as unknown as Record<string, RealConstructor | undefined>)[name];
    if (Real) intl[name] = wrapConstructor(name, Real);
  }
  for (const name of ["getCanonicalLocales", "supportedValuesOf"]) {
    const fn = (RealIntl as unknown as Record<string, unknown>)[name];
    if (typeof fn === "function") intl[name] = fn;
  }
  const facade = {};
  for (const [name, value] of Object.entries(intl)) Object.defineProperty(facade, name, { configurable: true, writable: true, enumerable: false, value });
  Object.defineProperty(facade, Symbol.toStringTag, { value: "Intl", configurable: true });
  routeLocaleMethods(intl);
  return facade;
}
