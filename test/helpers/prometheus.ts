// A strict parser of the Prometheus text format 0.0.4, for tests that read GET /metrics. (The
// registry's parsers were tried and refused: parse-prometheus-text-format 1.1.1 folds every
// labelled series of a histogram into one and accepts lines such as "a b c d"; prom2javascript
// 0.2.0 misreads a label value ending in an escaped backslash and has no NaN.)
import assert from "node:assert/strict";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Histogram {
  labels: Record<string, string>;
  /** [le, cumulative count], in the order exposed. */
  buckets: [string, number][];
  count: number;
  sum: number;
}
export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

// The grammar of https://prometheus.io/docs/instrumenting/exposition_formats/ (text format 0.0.4).
const BLANK = String.raw`[ \t]*`;
const LABEL_VALUE = String.raw`"(?:[^"\\\n]|\\[\\"n])*"`; // escapes: \\ \" \n, nothing else
const LABEL = `${BLANK}[a-zA-Z_][a-zA-Z0-9_]*${BLANK}=${BLANK}${LABEL_VALUE}${BLANK}`;
const VALUE = String.raw`[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN`;
const SAMPLE = new RegExp(String.raw`^([a-zA-Z_:][a-zA-Z0-9_:]*)${BLANK}(?:\{((?:${LABEL}(?:,${LABEL})*,?)?${BLANK})\})?[ \t]+(${VALUE})(?:[ \t]+(-?[0-9]+))?$`);
const LABEL_PAIR = new RegExp(String.raw`${BLANK}([a-zA-Z_][a-zA-Z0-9_]*)${BLANK}=${BLANK}"((?:[^"\\\n]|\\[\\"n])*)"${BLANK}(,|$)`, "y");
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

const unescapeLabel = (text: string) => text.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
const unescapeHelp = (text: string) => text.replace(/\\(.)/g, (all, c: string) => (c === "n" ? "\n" : c === "\\" ? "\\" : all));

function parseValue(text: string): number {
  if (/^\+?Inf$/.test(text)) return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL_PAIR.lastIndex = 0;
  while (LABEL_PAIR.lastIndex < text.length && !/^[ \t]*$/.test(text.slice(LABEL_PAIR.lastIndex))) {
    const match = LABEL_PAIR.exec(text);
    assert.ok(match, `malformed labels in: ${line}`);
    assert.ok(!(match[1] in labels), `label ${match[1]} twice in: ${line}`);
    labels[match[1]] = unescapeLabel(match[2]);
    if (match[3] === "") break;
  }
  return labels;
}

/**
 * Parses an exposition and refuses what the format does not allow: a malformed line, name,
 * label, escape or value, HELP or TYPE twice or after the family's samples, a family's samples
 * apart, a sample repeated, a histogram sample without its suffix, a bucket without le.
 */
export function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "the exposition ends with a line feed");
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let found = families.get(name);
    if (!found) families.set(name, (found = { name, type: "untyped", help: "", samples: [] }));
    return found;
  };
  const typed = new Set<string>();
  const helped = new Set<string>();
  const seen = new Set<string>();
  let current: string | undefined;
  const familyOf = (name: string) => {
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && ["histogram", "summary"].includes(families.get(base)?.type ?? "") && (suffix !== "_bucket" || families.get(base)!.type === "histogram")) return base;
    }
    return name;
  };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const [, keyword, name, rest = ""] = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line) ?? [];
      if (!keyword) continue; // a plain comment
      assert.match(name, METRIC_NAME, `metric name in: ${line}`);
      assert.ok(!family(name).samples.length, `${keyword} after the samples of ${name}`);
      if (keyword === "HELP") {
        assert.ok(!helped.has(name), `HELP twice for ${name}`);
        helped.add(name);
        family(name).help = unescapeHelp(rest);
      } else {
        assert.ok(TYPES.has(rest), `unknown type in: ${line}`);
        assert.ok(!typed.has(name), `TYPE twice for ${name}`);
        typed.add(name);
        family(name).type = rest as Family["type"];
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    assert.ok(match, `malformed sample line: ${JSON.stringify(line)}`);
    const [, name, labelText = "", value] = match;
    const labels = parseLabels(labelText, line);
    const owner = familyOf(name);
    assert.ok(owner === current || !families.get(owner)?.samples.length, `samples of ${owner} are not together`);
    current = owner;
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(key), `sample repeated: ${line}`);
    seen.add(key);
    const type = family(owner).type;
    if (type === "histogram") {
      assert.notEqual(name, owner, `histogram sample without a suffix: ${line}`);
      if (name.endsWith("_bucket")) assert.ok("le" in labels && !Number.isNaN(parseValue(labels.le)), `bucket without a valid le: ${line}`);
    }
    family(owner).samples.push({ name, labels, value: parseValue(value) });
  }
  for (const f of families.values()) if (f.type === "histogram") histograms(f);
  return families;
}

/** A histogram family's series; checks that each one's buckets end at +Inf, equal to its _count, and has a _sum. */
function histograms(f: Family): Histogram[] {
  const series = new Map<string, Histogram>();
  for (const s of f.samples) {
    const { le, ...labels } = s.labels;
    const key = JSON.stringify(Object.entries(labels).sort());
    let h = series.get(key);
    if (!h) series.set(key, (h = { labels, buckets: [], count: NaN, sum: NaN }));
    if (s.name.endsWith("_bucket")) h.buckets.push([le, s.value]);
    else if (s.name.endsWith("_count")) h.count = s.value;
    else h.sum = s.value;
  }
  for (const h of series.values()) {
    assert.equal(h.buckets.at(-1)?.[0], "+Inf", `${f.name}: the last bucket is +Inf`);
    assert.equal(h.buckets.at(-1)?.[1], h.count, `${f.name}: the +Inf bucket equals _count`);
    assert.ok(!Number.isNaN(h.sum), `${f.name}: has _sum`);
  }
  return [...series.values()];
}

export function samples(families: Map<string, Family>, name: string): Sample[] {
  const family = families.get(name);
  assert.ok(family, `family ${name} is exposed`);
  return family.samples;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(families, name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `one sample of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

export function histogramsOf(families: Map<string, Family>, name: string): Histogram[] {
  const family = families.get(name);
  assert.ok(family, `family ${name} is exposed`);
  return histograms(family);
}
