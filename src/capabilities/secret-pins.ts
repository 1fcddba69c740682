// Secrets pinned to hosts ("secrets": {"KEY": {"hosts": ["api.openai.com"]}}): the guest's fetch
// may carry the value (in the URL, a header or the body) only to those hosts. Checked on the host
// for every hop, so neither a request nor a redirect can take the key elsewhere.
//
// How: each value is compiled once per invocation into needles: its UTF-8 bytes, as FormData and
// the URL parser rewrite it (CRLF newlines; tabs and newlines dropped, '\' as '/' in a path), and
// its base64 and base64url. Each hop is searched as one text (method, URL, header names and
// values, body) as sent, and in views that undo the escapes Web APIs write: percent-decoded
// (encodeURIComponent, encodeURI, escape() with %uXXXX, the URL parser's own escaping, either
// hex case), form-decoded ('+' as space, as URLSearchParams writes it), and JSON-unescaped
// (\" \\ \/ \n \u00e9, surrogates) over each. Decoded views rather than the value encoded every
// way: each encoder escapes a different set of characters, and one decoded view matches them all.
// A view is built only when the request has its escape character and a run of the value's
// letters and digits (see RequestViews.decodable). Measured on a 2-core machine, two pins, a 1 MB
// body of random bytes, JSON, form fields or base64: 1–3 ms per hop; up to about 20 ms when the
// body also holds such runs, so that every view is built.
//
// A value of MIN_OFFSET_BYTES or more is also found in base64 of a longer text that contains it at
// any offset (Authorization: Basic btoa("user:" + key)): the characters that depend on the value
// alone, for each of the three alignments. A shorter value is matched only as a whole, base64 too:
// its 5 or so interior characters would turn up in a large base64 body by chance.
//
// Not covered (the guest can compute any function of the value before sending it): XOR, hex or
// any other radix of the bytes (escaping letters or digits by hand, which no encoder does, is
// that too), reversing or changing case (except in the host name and header names, compared
// case-insensitively), compression (CompressionStream), encryption or hashing (crypto.subtle),
// base64 with line breaks, base32 or quoted-printable, encodings stacked other than those above
// (encodeURIComponent twice over a value with escaped characters, base64 of JSON-escaped text), a
// non-ASCII value in the host name (punycode), the value split over several parts of a request
// (two headers, URL and body) or several requests, or leaked a bit at a time through which URLs
// are fetched, their number, size or timing.
import type { Manifest } from "../functions/manifest.ts";
import { EgressPolicy, FetchDenied } from "./egress.ts";

export interface SecretPin {
  name: string;
  hosts: EgressPolicy;
}

/**
 * Values shorter than this (in UTF-8 bytes) are not looked for inside longer base64 text, nor
 * case-insensitively in the host name and header names: too few characters to tell from chance.
 */
export const MIN_OFFSET_BYTES = 8;

export function secretPins(manifest: Manifest): SecretPin[] {
  const secrets = manifest.secrets;
  if (!secrets || Array.isArray(secrets)) return [];
  return Object.entries(secrets)
    .filter(([, pin]) => pin.hosts !== undefined)
    .map(([name, pin]) => ({ name, hosts: new EgressPolicy(pin.hosts ?? []) }));
}

export type HopCheck = (url: URL, headers: string[], body: ArrayBuffer | null, method?: string) => void;

/** A check for Fetcher.fetch's checkHop, or undefined when nothing is pinned. */
export function pinCheck(pins: SecretPin[], env: Record<string, string>): HopCheck | undefined {
  const active = pins.filter((pin) => (env[pin.name] ?? "").length > 0).map((pin) => ({ pin, needles: needlesOf(env[pin.name]) }));
  if (active.length === 0) return undefined;
  return (url, headers, body, method) => {
    let views: RequestViews | undefined;
    for (const { pin, needles } of active) {
      if (pin.hosts.names(url)) continue;
      views ??= new RequestViews(url, headers, body, method);
      if (views.carries(needles)) throw new FetchDenied(url.host, `carries secret ${pin.name}, which the manifest pins to other hosts`);
    }
  };
}

/** One form of a value, as latin1 text (one character per byte, as the views are). */
interface Needle {
  text: string;
  /** Its longest run of letters and digits, when 4 or more: see RequestViews.decodable. */
  anchor?: string;
}

/** What a value looks like in the views of a request. */
interface Needles {
  /** Its UTF-8 bytes as it is and as Web APIs rewrite it, and the value itself for escape(). */
  raw: Needle[];
  /** Its base64 and base64url: whole when short, else the interiors of the three alignments. */
  base64: Needle[];
  /** Whether the '+'-for-space view is needed: only a value with a space changes in it. */
  space: boolean;
  /** The value lower-cased, for the host name and header names (lower-cased on the way); unset when short. */
  folded?: string;
}

function needlesOf(value: string): Needles {
  const utf8 = Buffer.from(value, "utf8");
  const long = utf8.length >= MIN_OFFSET_BYTES;
  // btoa(value) itself works on a value whose characters all fit in a byte: its latin1 bytes.
  const sources = [utf8, ...(/^[\x00-\xff]*$/.test(value) ? [Buffer.from(value, "latin1")] : [])];
  const base64 = sources.flatMap((source) => (long ? base64Interiors(source) : [unpadded(source.toString("base64"))]));
  // escape() writes é as %E9 and € as %u20AC, which unescape() turns back into those
  // characters, not into UTF-8 bytes: so the value itself is a needle too.
  const raw = [value, ...rewritten(value)].map((form) => Buffer.from(form, "utf8").toString("latin1")).concat(value);
  return {
    raw: unique(raw).map(needle),
    base64: unique([...base64, ...base64.map(toBase64Url)]).map(needle),
    space: value.includes(" "),
    folded: long ? value.toLowerCase() : undefined,
  };
}

function needle(text: string): Needle {
  const anchor = text.match(/[A-Za-z0-9]+/g)?.reduce((longest, run) => (run.length > longest.length ? run : longest), "");
  return { text, anchor: anchor && anchor.length >= 4 ? anchor : undefined };
}

/**
 * The value as the guest's Web APIs rewrite it on the way out: FormData sends newlines as CRLF;
 * the URL parser drops tabs and newlines, and in a path turns '\' into '/'.
 */
function rewritten(value: string): string[] {
  const inUrl = value.replace(/[\t\n\r]/g, "");
  return [value.replace(/\r\n|\r|\n/g, "\r\n"), inUrl, inUrl.replace(/\\/g, "/")];
}

/**
 * Base64 of a value that sits at any offset of a longer text: for each alignment (0, 1 or 2 bytes
 * of the text before it in its 3-byte group), the characters that depend on the value's bytes
 * alone: the leading ones that mix in the text before and the last one that mixes in the text
 * after are left out.
 */
function base64Interiors(bytes: Buffer): string[] {
  return [0, 1, 2].map((align) => {
    const aligned = Buffer.concat([Buffer.alloc(align), bytes]);
    let text = unpadded(aligned.toString("base64"));
    if (aligned.length % 3 !== 0) text = text.slice(0, -1);
    return text.slice([0, 2, 3][align]);
  });
}

const unpadded = (base64: string) => base64.replace(/=+$/, "");
const unique = (list: string[]) => [...new Set(list)];

const toBase64Url = (base64: string) => base64.replace(/\+/g, "-").replace(/\//g, "_");

/**
 * The request as one text, and its decoded views, each built on first use. Every view is a latin1
 * string (one character per byte), so the value is looked for as its UTF-8 bytes: no view decodes
 * the body as UTF-8, which costs more than all the searching on a binary body.
 */
class RequestViews {
  private readonly all: Buffer;
  private readonly names: string;
  private readonly cache = new Map<ViewName, string | null>();

  constructor(url: URL, headers: string[], body: ArrayBuffer | null, method: string | undefined) {
    const head = `${method ?? ""}\n${url.href}\n${headers.join("\n")}\n`;
    this.all = Buffer.concat([Buffer.from(head, "utf8"), body ? Buffer.from(body) : Buffer.alloc(0)]);
    this.names = [url.hostname, method ?? "", ...headers.filter((_, i) => i % 2 === 0)].join("\n").toLowerCase();
  }

  carries(needles: Needles): boolean {
    const sent = this.view("sent")!;
    const found = (name: ViewName, list: Needle[]) => {
      const view = list.length > 0 ? this.view(name) : null;
      return view !== null && list.some((needle) => view.includes(needle.text));
    };
    if ([...needles.raw, ...needles.base64].some((needle) => sent.includes(needle.text))) return true;
    const raw = this.decodable(needles.raw);
    // base64 needs no JSON escape, and URLSearchParams writes its '+' as %2B: base64 is looked
    // for in the views where it can be.
    const withBase64 = [...raw, ...this.decodable(needles.base64)];
    if (found("percent", withBase64) || found("json", raw) || found("json percent", raw)) return true;
    if (needles.space && (found("form", raw) || found("json form", raw))) return true;
    return needles.folded !== undefined && this.names.includes(needles.folded);
  }

  /**
   * Needles a decoded view could reveal. No encoder escapes letters or digits, so each run of them
   * in a value is in every encoding of it as it is: a needle whose longest run is not in the
   * request as sent is in no decoded view either, and the views (several milliseconds each on a
   * large binary body) are not built for it.
   */
  private decodable(list: Needle[]): Needle[] {
    const sent = this.view("sent")!;
    return list.filter((needle) => needle.anchor === undefined || sent.includes(needle.anchor));
  }

  private view(name: ViewName): string | null {
    if (!this.cache.has(name)) this.cache.set(name, this.build(name));
    return this.cache.get(name)!;
  }

  /** A view, or null when it would equal one already searched (the request lacks the escape character). */
  private build(name: ViewName): string | null {
    if (name === "sent") return this.all.toString("latin1");
    const sent = this.view("sent")!;
    if (name === "percent") return sent.includes("%") ? unescape(sent) : null;
    if (name === "form") return sent.includes("+") ? unescape(sent.replace(/\+/g, " ")) : null;
    const under = this.view(name === "json" ? "sent" : name === "json percent" ? "percent" : "form");
    return under !== null && under.includes("\\") ? jsonUnescape(under) : null;
  }
}

/**
 * "percent": unescape() takes %XX to the byte and %uXXXX (escape() of characters past U+00FF) to
 * the character, in either hex case, and leaves malformed escapes. "form": '+' is a space first.
 * "json …": JSON string escapes undone in the view under it.
 */
type ViewName = "sent" | "percent" | "form" | "json" | "json percent" | "json form";

const JSON_ESCAPE = /\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\(["\\/bfnrt])/g;
const JSON_SIMPLE: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/**
 * JSON string escapes undone wherever they appear (the search does not parse the JSON), each into
 * the UTF-8 bytes of what it stands for: a surrogate pair as one character, a lone surrogate as
 * U+FFFD, as the value's own UTF-8 has it.
 */
function jsonUnescape(view: string): string {
  return view.replace(JSON_ESCAPE, (_, high?: string, low?: string, unit?: string, simple?: string) => {
    if (simple) return JSON_SIMPLE[simple];
    const text = high ? String.fromCharCode(parseInt(high, 16), parseInt(low!, 16)) : String.fromCharCode(parseInt(unit!, 16));
    return Buffer.from(text, "utf8").toString("latin1");
  });
}
