// The Web APIs of the guest runtime, exercised in real isolates through the Sandbox: each test
// deploys a small module, dispatches to it and checks what comes back across the boundary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { build } from "esbuild";
import { Sandbox } from "../sandbox/host/sandbox.ts";
import type { InvocationHost } from "../sandbox/host/host-work.ts";
import { dispatch } from "./helpers/sandbox.ts";
import type { LogLevel, WireRequest, WireResponse } from "../sandbox/protocol.ts";

const INFO = { runId: "r1", traceId: "t", tenant: "default", function: "f", env: {} };

type Log = [LogLevel, string] | [LogLevel, string, unknown];

interface RunOptions {
  payload?: unknown;
  fetch?: InvocationHost["fetch"];
}

const noNetwork: InvocationHost["fetch"] = async () => {
  throw new TypeError("no network in these tests");
};

/** Runs `body` as the job handler of a fresh isolate; returns its result and the logs. */
async function runJob(body: string, options: RunOptions = {}): Promise<{ value: any; logs: Log[] }> {
  const sandbox = await Sandbox.boot(64);
  try {
    await sandbox.load(`export default { async job(payload, env, ctx) {\n${body}\n} }`, "file:///t.js", 1000);
    const logs: Log[] = [];
    const hooks: InvocationHost = { log: (level, message, fields) => logs.push(fields === undefined ? [level, message] : [level, message, JSON.parse(fields)]), fetch: options.fetch ?? noNetwork };
    const { value } = await dispatch(sandbox, "job", INFO, options.payload ?? null, hooks);
    return { value, logs };
  } finally {
    sandbox.dispose();
  }
}

async function job(body: string, options?: RunOptions): Promise<any> {
  return (await runJob(body, options)).value;
}

const encode = (text: string) => {
  const bytes = new TextEncoder().encode(text);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
};
const decode = (buffer: ArrayBuffer | null) => (buffer === null ? null : new TextDecoder().decode(buffer));

function wireResponse(status: number, headers: string[], body: string | null, extra: Partial<WireResponse> = {}): WireResponse {
  return { status, statusText: "", headers, body: body === null ? null : encode(body), ...extra };
}

// ——— globals ———

const GLOBALS = [
  "Request", "Response", "Headers", "URL", "URLSearchParams", "TextEncoder", "TextDecoder", "atob", "btoa",
  "crypto", "console", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "queueMicrotask",
  "structuredClone", "AbortController", "AbortSignal", "EventTarget", "Event", "DOMException", "ReadableStream",
  "WritableStream", "TransformStream", "Blob", "File", "FormData", "fetch", "CustomEvent", "TextEncoderStream",
  "TextDecoderStream", "CryptoKey", "SubtleCrypto", "performance", "reportError",
];

test("every Web API global is installed, non-enumerable, writable and configurable; no host binding leaks", async () => {
  const value = await job(`
    const names = ${JSON.stringify(GLOBALS)};
    // URL and the stream classes load on first use: an accessor until then.
    const lazy = names.filter((name) => typeof Object.getOwnPropertyDescriptor(globalThis, name).get === "function");
    for (const name of names) void globalThis[name];
    const shapes = names.map((name) => {
      const d = Object.getOwnPropertyDescriptor(globalThis, name);
      return [name, typeof d?.value, d?.enumerable, d?.writable, d?.configurable];
    });
    const own = Object.getOwnPropertyNames(globalThis);
    return { lazy, shapes, suspicious: own.filter((n) => /isobox|core-js|host|binding/i.test(n)) };
  `);
  assert.deepEqual(value.lazy, ["URL", "URLSearchParams", "ReadableStream", "WritableStream", "TransformStream"]);
  for (const [name, type, enumerable, writable, configurable] of value.shapes) {
    assert.ok(type === "function" || type === "object", `${name} is ${type}`);
    assert.deepEqual([enumerable, writable, configurable], [false, true, true], name);
  }
  assert.deepEqual(value.suspicious, []);
});

test("interface objects look like browsers': toStringTag, illegal constructors", async () => {
  const value = await job(`
    const illegal = (fn) => { try { fn(); return "constructed"; } catch (e) { return e.constructor.name; } };
    return {
      tags: [new Headers(), new URL("https://a.b"), new Blob(), new AbortController().signal, crypto, new TextEncoder()].map((o) => Object.prototype.toString.call(o)),
      signal: illegal(() => new AbortSignal()),
      key: illegal(() => new CryptoKey()),
      subtle: illegal(() => new SubtleCrypto()),
    };
  `);
  assert.deepEqual(value.tags, ["[object Headers]", "[object URL]", "[object Blob]", "[object AbortSignal]", "[object Crypto]", "[object TextEncoder]"]);
  assert.deepEqual([value.signal, value.key, value.subtle], ["TypeError", "TypeError", "TypeError"]);
});

// ——— URL ———

test("URL parses, resolves and serialises like the WHATWG URL Standard", async () => {
  const value = await job(`
    const href = (input, base) => { try { return new URL(input, base).href; } catch (e) { return e.name; } };
    const u = new URL("https://user:pw@EXAMPLE.com:8080/a/./b/../c?x=1&y=%20#frag");
    const parts = [u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, u.origin];
    u.searchParams.append("z", "a b&c");
    return {
      parts,
      updated: u.href,
      cases: [
        href("/p/../q?r#s", "https://ex.com/base/x"),
        href("../up", "https://ex.com/a/b/c"),
        href("//other.org/x", "https://ex.com"),
        href("HTTPS://EX.COM:443/"),
        href("http://ex.com:80/a b"),
        href("https://münchen.de/straße"),
        href("http://0x7f.1/"),
        href("http://[0:0:0:0:0:0:0:1]:8000/"),
        href("file:///tmp/a%2Fb"),
        href("mailto:someone@example.com"),
        href("data:text/plain,hi there"),
        href("relative/only"),
        href("http://exa mple.com/"),
        href("https://ex.com:99999/"),
      ],
      canParse: [URL.canParse("https://a"), URL.canParse("nope"), URL.canParse("x", "https://a/")],
      parseNull: URL.parse("::") === null,
      json: JSON.stringify({ u: new URL("https://a.b/c") }),
    };
  `);
  assert.deepEqual(value.parts, ["https:", "user", "pw", "example.com:8080", "example.com", "8080", "/a/c", "?x=1&y=%20", "#frag", "https://example.com:8080"]);
  assert.equal(value.updated, "https://user:pw@example.com:8080/a/c?x=1&y=+&z=a+b%26c#frag");
  assert.deepEqual(value.cases, [
    "https://ex.com/q?r#s",
    "https://ex.com/a/up",
    "https://other.org/x",
    "https://ex.com/",
    "http://ex.com/a%20b",
    "https://xn--mnchen-3ya.de/stra%C3%9Fe",
    "http://127.0.0.1/",
    "http://[::1]:8000/",
    "file:///tmp/a%2Fb",
    "mailto:someone@example.com",
    "data:text/plain,hi there",
    "TypeError",
    "TypeError",
    "TypeError",
  ]);
  assert.deepEqual(value.canParse, [true, false, true]);
  assert.equal(value.parseNull, true);
  assert.equal(value.json, '{"u":"https://a.b/c"}');
});

test("URLSearchParams parses, mutates, sorts and serialises", async () => {
  const value = await job(`
    const p = new URLSearchParams("?a=1&b=2&a=3&c=%E2%82%AC&d=x+y&e");
    const before = [p.get("a"), p.getAll("a"), p.get("c"), p.get("d"), p.get("e"), p.get("zz"), p.size, p.has("a", "3"), p.has("a", "9")];
    p.delete("a", "1");
    p.set("b", "new");
    p.append("space", "a b");
    p.sort();
    return {
      before,
      after: p.toString(),
      fromRecord: new URLSearchParams({ x: "1", y: "é" }).toString(),
      fromPairs: [...new URLSearchParams([["k", "v"], ["k", "w"]])],
    };
  `);
  assert.deepEqual(value.before, ["1", ["1", "3"], "€", "x y", "", null, 6, true, false]);
  assert.equal(value.after, "a=3&b=new&c=%E2%82%AC&d=x+y&e=&space=a+b");
  assert.equal(value.fromRecord, "x=1&y=%C3%A9");
  assert.deepEqual(value.fromPairs, [["k", "v"], ["k", "w"]]);
});

// ——— encoding ———

test("TextEncoder and TextDecoder round-trip UTF-8, surrogate pairs included", async () => {
  const value = await job(`
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    const text = "héllo wörld 😀 中文 \\u{10FFFF}";
    const bytes = enc.encode(text);
    const into = new Uint8Array(5);
    const partial = enc.encodeInto("a😀b", into);
    const fatal = (() => { try { new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xc3, 0x28])); return "decoded"; } catch (e) { return e.name; } })();
    const label = (() => { try { new TextDecoder("latin1"); return "ok"; } catch (e) { return e.name; } })();
    const streaming = new TextDecoder();
    const euro = [0xe2, 0x82, 0xac];
    const streamed = streaming.decode(new Uint8Array(euro.slice(0, 1)), { stream: true }) + streaming.decode(new Uint8Array(euro.slice(1)), { stream: true }) + streaming.decode();
    return {
      roundTrip: dec.decode(bytes) === text,
      emoji: Array.from(enc.encode("😀")),
      lone: Array.from(enc.encode("a\\ud800b")),
      pairFromBytes: dec.decode(new Uint8Array([0xf0, 0x9f, 0x98, 0x80])).length,
      invalid: [
        dec.decode(new Uint8Array([0xf0, 0x9f, 0x41])),
        dec.decode(new Uint8Array([0xff, 0x61])),
        dec.decode(new Uint8Array([0xed, 0xa0, 0x80])),
        dec.decode(new Uint8Array([0xe2, 0x82])),
      ],
      bom: [dec.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])), new TextDecoder("utf8", { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).length],
      partial: [partial.read, partial.written, Array.from(into)],
      fatal, label, streamed,
      props: [enc.encoding, dec.encoding, dec.fatal, dec.ignoreBOM],
      arrayBuffer: dec.decode(enc.encode("ab").buffer),
    };
  `);
  assert.equal(value.roundTrip, true);
  assert.deepEqual(value.emoji, [0xf0, 0x9f, 0x98, 0x80]);
  assert.deepEqual(value.lone, [0x61, 0xef, 0xbf, 0xbd, 0x62]);
  assert.equal(value.pairFromBytes, 2);
  assert.deepEqual(value.invalid, ["\ufffdA", "\ufffda", "\ufffd\ufffd\ufffd", "\ufffd"]);
  assert.deepEqual(value.bom, ["A", 2]);
  assert.deepEqual(value.partial, [3, 5, [0x61, 0xf0, 0x9f, 0x98, 0x80]]);
  assert.equal(value.fatal, "TypeError");
  assert.equal(value.label, "RangeError");
  assert.equal(value.streamed, "€");
  assert.deepEqual(value.props, ["utf-8", "utf-8", false, false]);
  assert.equal(value.arrayBuffer, "ab");
});

test("atob and btoa follow forgiving-base64", async () => {
  const value = await job(`
    const error = (fn) => { try { fn(); return "no error"; } catch (e) { return [e.name, e instanceof DOMException]; } };
    return {
      encoded: [btoa(""), btoa("f"), btoa("fo"), btoa("foo"), btoa("\\xff\\xfe")],
      decoded: [atob("Zm9v"), atob(" Zm 9v\\n"), atob("Zg"), atob("Zg==")],
      badDecode: error(() => atob("Zm9v=")),
      badEncode: error(() => btoa("€")),
    };
  `);
  assert.deepEqual(value.encoded, ["", "Zg==", "Zm8=", "Zm9v", "//4="]);
  assert.deepEqual(value.decoded, ["foo", "foo", "f", "f"]);
  assert.deepEqual(value.badDecode, ["InvalidCharacterError", true]);
  assert.deepEqual(value.badEncode, ["InvalidCharacterError", true]);
});

// ——— crypto ———

test("crypto.getRandomValues and randomUUID", async () => {
  const value = await job(`
    const error = (fn) => { try { fn(); return "no error"; } catch (e) { return e.name; } };
    const a = crypto.getRandomValues(new Uint8Array(32));
    const b = crypto.getRandomValues(new Uint32Array(8));
    const uuids = Array.from({ length: 50 }, () => crypto.randomUUID());
    return {
      same: a === a, sizes: [a.length, b.length], distinct: a.some((x) => x !== 0) && b.some((x) => x !== 0),
      uuids, unique: new Set(uuids).size,
      floats: error(() => crypto.getRandomValues(new Float64Array(2))),
      quota: error(() => crypto.getRandomValues(new Uint8Array(65537))),
      notView: error(() => crypto.getRandomValues([1, 2])),
      detached: (() => { const { getRandomValues } = crypto; return error(() => getRandomValues(new Uint8Array(2))); })(),
    };
  `);
  assert.deepEqual(value.sizes, [32, 8]);
  assert.equal(value.distinct, true);
  assert.equal(value.unique, 50);
  for (const uuid of value.uuids) assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(value.floats, "TypeMismatchError");
  assert.equal(value.quota, "QuotaExceededError");
  assert.equal(value.notView, "TypeError");
});

test("crypto.subtle.digest matches the known vectors", async () => {
  const { createHash } = await import("node:crypto");
  const value = await job(`
    const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
    const abc = new TextEncoder().encode("abc");
    const out = {};
    for (const name of ["SHA-1", "SHA-256", "SHA-384", "SHA-512"]) out[name] = hex(await crypto.subtle.digest(name, abc));
    out.objectForm = hex(await crypto.subtle.digest({ name: "sha-256" }, abc.buffer));
    out.view = hex(await crypto.subtle.digest("SHA-256", new Uint8Array([0, 97, 98, 99, 0]).subarray(1, 4)));
    out.empty = hex(await crypto.subtle.digest("SHA-256", new Uint8Array(0)));
    out.md5 = await crypto.subtle.digest("MD5", abc).then(() => "resolved", (e) => e.name);
    out.notData = await crypto.subtle.digest("SHA-256", "abc").then(() => "resolved", (e) => e.name);
    return out;
  `);
  assert.equal(value["SHA-256"], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (const name of ["SHA-1", "SHA-384", "SHA-512"]) {
    assert.equal(value[name], createHash(name.replace("-", "").toLowerCase()).update("abc").digest("hex"), name);
  }
  assert.equal(value.objectForm, value["SHA-256"]);
  assert.equal(value.view, value["SHA-256"]);
  assert.equal(value.empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(value.md5, "NotSupportedError");
  assert.equal(value.notData, "TypeError");
});

test("crypto.subtle HMAC: RFC 4231 vectors, verify, key handling", async () => {
  const value = await job(`
    const enc = new TextEncoder();
    const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
    const reject = (promise) => promise.then(() => "resolved", (e) => e.name);
    const jefe = await crypto.subtle.importKey("raw", enc.encode("Jefe"), { name: "HMAC", hash: "SHA-256" }, true, ["sign", "verify"]);
    const data = enc.encode("what do ya want for nothing?");
    const mac = await crypto.subtle.sign("HMAC", jefe, data);
    const key512 = await crypto.subtle.importKey("raw", enc.encode("Jefe"), { name: "HMAC", hash: { name: "SHA-512" } }, false, ["sign"]);
    const case1 = await crypto.subtle.importKey("raw", new Uint8Array(20).fill(0x0b), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const tampered = new Uint8Array(mac.slice(0)); tampered[31] ^= 1;
    const signOnly = await crypto.subtle.importKey("raw", enc.encode("k"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const generated = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-384" }, true, ["sign", "verify"]);
    const jwk = await crypto.subtle.exportKey("jwk", jefe);
    const fromJwk = await crypto.subtle.importKey("jwk", jwk, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    jefe.usages.length = 0; // mutating the reflected list changes nothing
    return {
      case2sha256: hex(mac),
      case2sha512: hex(await crypto.subtle.sign("HMAC", key512, data)),
      case1sha256: hex(await crypto.subtle.sign({ name: "HMAC" }, case1, enc.encode("Hi There"))),
      verify: [
        await crypto.subtle.verify("HMAC", jefe, mac, data),
        await crypto.subtle.verify("HMAC", jefe, tampered, data),
        await crypto.subtle.verify("HMAC", jefe, mac.slice(0, 16), data),
        await crypto.subtle.verify("HMAC", jefe, mac, enc.encode("other")),
      ],
      key: [jefe.type, jefe.extractable, jefe.algorithm.name, jefe.algorithm.hash.name, jefe.algorithm.length, String(jefe)],
      generated: [generated.algorithm.length, hex(await crypto.subtle.exportKey("raw", generated)).length],
      jwk: [jwk.kty, jwk.k, jwk.alg, jwk.ext],
      fromJwk: hex(await crypto.subtle.sign("HMAC", fromJwk, data)) === hex(mac),
      verifyWithSignOnly: await reject(crypto.subtle.verify("HMAC", signOnly, mac, data)),
      exportNonExtractable: await reject(crypto.subtle.exportKey("raw", signOnly)),
      badUsage: await reject(crypto.subtle.importKey("raw", enc.encode("k"), { name: "HMAC", hash: "SHA-256" }, false, ["encrypt"])),
      emptyKey: await reject(crypto.subtle.importKey("raw", new Uint8Array(0), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])),
      aes: await reject(crypto.subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"])),
    };
  `);
  assert.equal(value.case2sha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  assert.equal(value.case2sha512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
  assert.equal(value.case1sha256, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  assert.deepEqual(value.verify, [true, false, false, false]);
  assert.deepEqual(value.key, ["secret", true, "HMAC", "SHA-256", 32, "[object CryptoKey]"]);
  assert.deepEqual(value.generated, [1024, 256]);
  assert.deepEqual(value.jwk, ["oct", "SmVmZQ", "HS256", true]);
  assert.equal(value.fromJwk, true);
  assert.equal(value.verifyWithSignOnly, "InvalidAccessError");
  assert.equal(value.exportNonExtractable, "InvalidAccessError");
  assert.equal(value.badUsage, "SyntaxError");
  assert.equal(value.emptyKey, "DataError");
  assert.equal(value.aes, "NotSupportedError");
});

// ——— console ———

test("console sends formatted lines to the host with their level", async () => {
  const { logs } = await runJob(`
    console.log("plain", "strings", 42, true, null, undefined);
    console.info({ a: 1, b: "two", nested: { deep: { deeper: { deepest: 1 } } }, list: [1, 2, 3] });
    console.warn("%s is %d years and %i days, %o", "Ann", 42.5, 3.9, { x: 1 }, "extra");
    console.error(new TypeError("bad thing"));
    console.debug(new Map([["k", { v: 1 }]]), new Set([1, "a"]), [1, , 3], Symbol("s"), 10n, -0);
    const cyclic = { name: "loop" }; cyclic.self = cyclic;
    console.log(cyclic);
    console.log(new Date(0), /re/g, () => {}, function named() {}, class Foo {}, new Uint8Array([1, 2]));
    console.log(Object.create(null), new (class Point { constructor() { this.x = 1; } })(), { "needs-quote": "it's" });
    console.assert(1 === 2, "math is", "broken");
    console.assert(true, "never shown");
    console.log(new Headers({ b: "2", a: "1" }), new URL("https://x.y/z"));
    const { log } = console; log("detached");
  `);
  assert.deepEqual(logs[0], ["log", "plain strings 42 true null undefined"]);
  assert.deepEqual(logs[1], ["info", "{\n  a: 1,\n  b: 'two',\n  nested: { deep: { deeper: [Object] } },\n  list: [ 1, 2, 3 ]\n}", { a: 1, b: "two", nested: { deep: { deeper: { deepest: 1 } } }, list: [1, 2, 3] }]);
  assert.deepEqual(logs[2], ["warn", "Ann is 42.5 years and 3 days, { x: 1 } extra"]);
  assert.equal(logs[3][0], "error");
  assert.match(logs[3][1], /^TypeError: bad thing\n {4}at /);
  assert.deepEqual(logs[4], ["debug", "Map(1) { 'k' => { v: 1 } } Set(2) { 1, 'a' } [ 1, <1 empty item>, 3 ] Symbol(s) 10n -0"]);
  assert.deepEqual(logs[5], ["log", "<ref *1> { name: 'loop', self: [Circular *1] }"]);
  assert.deepEqual(logs[6], ["log", "1970-01-01T00:00:00.000Z /re/g [Function (anonymous)] [Function: named] [class Foo] Uint8Array(2) [ 1, 2 ]"]);
  // A plain object last is the line's structured fields, not part of its message.
  assert.deepEqual(logs[7], ["log", "[Object: null prototype] {} Point { x: 1 }", { "needs-quote": "it's" }]);
  assert.deepEqual(logs[8], ["error", "Assertion failed: math is broken"]);
  assert.deepEqual(logs[9], ["log", "Headers { a: '1', b: '2' } URL { href: 'https://x.y/z' }"]);
  assert.deepEqual(logs[10], ["log", "detached"]);
  assert.equal(logs.length, 11);
});

// ——— timers ———

test("timers fire in order, clearTimeout and clearInterval cancel, arguments pass through", async () => {
  const { value, logs } = await runJob(`
    const order = [];
    setTimeout(() => order.push("t20"), 20);
    setTimeout((a, b) => order.push("t5:" + a + b), 5, "x", "y");
    setTimeout(() => order.push("t0-a"), 0);
    setTimeout(() => order.push("t0-b"));
    const cancelled = setTimeout(() => order.push("cancelled"), 1);
    clearTimeout(cancelled);
    queueMicrotask(() => order.push("micro"));
    Promise.resolve().then(() => order.push("promise"));
    let ticks = 0;
    const interval = setInterval(() => { ticks++; order.push("tick" + ticks); if (ticks === 3) clearInterval(interval); }, 2);
    setTimeout(() => { throw new Error("from a timer"); }, 1);
    setTimeout(() => console.log("logged from a timer"), 1);
    order.push("sync");
    await new Promise((resolve) => setTimeout(resolve, 40));
    return { order, ids: [typeof cancelled, cancelled > 0], bad: (() => { try { setTimeout("code"); } catch (e) { return e.name; } })() };
  `);
  const order: string[] = value.order;
  assert.deepEqual(order.slice(0, 3), ["sync", "micro", "promise"]);
  assert.ok(order.indexOf("t0-a") < order.indexOf("t0-b"));
  assert.ok(order.indexOf("t0-b") < order.indexOf("t5:xy"));
  assert.ok(order.indexOf("t5:xy") < order.indexOf("t20"));
  assert.deepEqual(order.filter((item) => item.startsWith("tick")), ["tick1", "tick2", "tick3"]);
  assert.ok(!order.includes("cancelled"));
  assert.deepEqual(value.ids, ["number", true]);
  assert.equal(value.bad, "TypeError");
  // Both the report of the throwing callback and the log reach the invocation's hooks.
  assert.ok(logs.some(([level, message]) => level === "error" && message.startsWith("Uncaught Error: from a timer")));
  assert.ok(logs.some(([level, message]) => level === "log" && message === "logged from a timer"));
});

test("timer callbacks run attributed to the invocation that created them", async () => {
  const sandbox = await Sandbox.boot(64);
  try {
    await sandbox.load(`export default { async job(payload) {
      await new Promise((resolve) => setTimeout(resolve, payload.wait));
      console.log("done " + payload.name);
      setTimeout(() => console.log("late " + payload.name), 1);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return payload.name;
    } }`, "file:///t.js", 1000);
    const logsA: string[] = [];
    const logsB: string[] = [];
    const hooks = (logs: string[]): InvocationHost => ({ log: (_level, message) => logs.push(message), fetch: noNetwork });
    const [{ value: a }, { value: b }] = await Promise.all([
      dispatch(sandbox, "job", { ...INFO, runId: "a" }, { name: "A", wait: 15 }, hooks(logsA)),
      dispatch(sandbox, "job", { ...INFO, runId: "b" }, { name: "B", wait: 1 }, hooks(logsB)),
    ]);
    assert.deepEqual([a, b], ["A", "B"]);
    assert.deepEqual(logsA, ["done A", "late A"]);
    assert.deepEqual(logsB, ["done B", "late B"]);
  } finally {
    sandbox.dispose();
  }
});

// ——— events, abort, DOMException ———

test("EventTarget and Event: listeners, once, handleEvent, stopImmediatePropagation, CustomEvent", async () => {
  const value = await job(`
    const target = new EventTarget();
    const seen = [];
    target.addEventListener("ping", (e) => seen.push("a:" + e.type + ":" + (e.target === target)));
    target.addEventListener("ping", { handleEvent: (e) => seen.push("b") }, { once: true });
    target.addEventListener("ping", (e) => { seen.push("c"); e.stopImmediatePropagation(); });
    target.addEventListener("ping", () => seen.push("never"));
    target.dispatchEvent(new Event("ping"));
    target.dispatchEvent(new Event("ping"));
    const cancelable = new Event("x", { cancelable: true });
    target.addEventListener("x", (e) => e.preventDefault());
    const notCancelled = target.dispatchEvent(cancelable);
    let detail;
    target.addEventListener("custom", (e) => { detail = e.detail; });
    target.dispatchEvent(new CustomEvent("custom", { detail: { n: 1 } }));
    const controller = new AbortController();
    target.addEventListener("y", () => seen.push("y"), { signal: controller.signal });
    controller.abort();
    target.dispatchEvent(new Event("y"));
    return { seen, notCancelled, prevented: cancelable.defaultPrevented, detail };
  `);
  assert.deepEqual(value.seen, ["a:ping:true", "b", "c", "a:ping:true", "c"]);
  assert.equal(value.notCancelled, false);
  assert.equal(value.prevented, true);
  assert.deepEqual(value.detail, { n: 1 });
});

test("AbortController, AbortSignal.abort/timeout/any, throwIfAborted and reason", async () => {
  const value = await job(`
    const c = new AbortController();
    const events = [];
    c.signal.onabort = (e) => events.push("onabort:" + e.type);
    c.signal.addEventListener("abort", () => events.push("listener:" + c.signal.aborted));
    const before = c.signal.aborted;
    c.abort();
    c.abort("second call ignored");
    const reason = c.signal.reason;
    const thrown = (() => { try { c.signal.throwIfAborted(); } catch (e) { return e === reason; } })();
    const custom = new AbortController(); custom.abort("why");
    const pre = AbortSignal.abort(42);
    const start = Date.now();
    const timeout = AbortSignal.timeout(10);
    const timedOut = await new Promise((resolve) => timeout.addEventListener("abort", () => resolve(timeout.reason)));
    const s1 = new AbortController(), s2 = new AbortController();
    const any = AbortSignal.any([s1.signal, s2.signal]);
    const nested = AbortSignal.any([any]);
    const anyEvents = [];
    any.onabort = () => anyEvents.push("any:" + nested.aborted);
    nested.onabort = () => anyEvents.push("nested");
    s2.abort("s2 reason");
    const alreadyAborted = AbortSignal.any([new AbortController().signal, AbortSignal.abort("early")]);
    return {
      before, events, reason: [reason.name, reason.message, reason instanceof DOMException, reason.code],
      thrown, custom: custom.signal.reason, pre: [pre.aborted, pre.reason],
      timedOut: [timedOut.name, timedOut instanceof DOMException, Date.now() - start >= 9],
      any: [any.aborted, any.reason, nested.reason, anyEvents, s1.signal.aborted],
      alreadyAborted: [alreadyAborted.aborted, alreadyAborted.reason],
      badTimeout: (() => { try { AbortSignal.timeout(-1); } catch (e) { return e.name; } })(),
    };
  `);
  assert.equal(value.before, false);
  assert.deepEqual(value.events, ["onabort:abort", "listener:true"]);
  assert.deepEqual(value.reason, ["AbortError", "This operation was aborted", true, 20]);
  assert.equal(value.thrown, true);
  assert.equal(value.custom, "why");
  assert.deepEqual(value.pre, [true, 42]);
  assert.deepEqual(value.timedOut, ["TimeoutError", true, true]);
  assert.deepEqual(value.any, [true, "s2 reason", "s2 reason", ["any:true", "nested"], false]);
  assert.deepEqual(value.alreadyAborted, [true, "early"]);
  assert.equal(value.badTimeout, "TypeError");
});

test("DOMException has name, message, legacy code and a stack", async () => {
  const value = await job(`
    const e = new DOMException("nope", "NotFoundError");
    const plain = new DOMException();
    return {
      fields: [e.name, e.message, e.code, e instanceof Error, String(e), DOMException.NOT_FOUND_ERR, e.ABORT_ERR],
      plain: [plain.name, plain.message, plain.code],
      stack: e.stack.split("\\n")[0],
      own: Object.keys(e),
    };
  `);
  assert.deepEqual(value.fields, ["NotFoundError", "nope", 8, true, "NotFoundError: nope", 8, 20]);
  assert.deepEqual(value.plain, ["Error", "", 0]);
  assert.equal(value.stack, "NotFoundError: nope");
  assert.deepEqual(value.own, []);
});

// ——— structuredClone ———

test("structuredClone copies Map, Set, Date, RegExp, typed arrays, cycles; refuses functions", async () => {
  const value = await job(`
    const original = { date: new Date(86400000), map: new Map([["k", { v: [1, 2] }]]), set: new Set([1, 2]), re: /x+/gi, bytes: new Uint8Array([1, 2, 3]), big: 10n, nested: { arr: [1, "two"] } };
    original.self = original;
    original.map.get("k").back = original;
    const copy = structuredClone(original);
    const error = (v) => { try { structuredClone(v); return "cloned"; } catch (e) { return [e.name, e instanceof DOMException]; } };
    return {
      distinct: copy !== original && copy.map !== original.map && copy.date !== original.date,
      date: copy.date instanceof Date && copy.date.getTime(),
      map: copy.map instanceof Map && copy.map.get("k").v,
      set: copy.set instanceof Set && [...copy.set],
      re: copy.re instanceof RegExp && copy.re.flags + copy.re.source,
      bytes: copy.bytes instanceof Uint8Array && Array.from(copy.bytes),
      big: copy.big === 10n,
      cycles: copy.self === copy && copy.map.get("k").back === copy,
      error: (() => { const e = structuredClone(new RangeError("r")); return [e instanceof RangeError, e.message]; })(),
      fn: error({ f() {} }),
      symbol: error(Symbol("s")),
    };
  `);
  assert.deepEqual(value, {
    distinct: true, date: 86400000, map: [1, 2], set: [1, 2], re: "gix+", bytes: [1, 2, 3], big: true, cycles: true,
    error: [true, "r"], fn: ["DataCloneError", true], symbol: ["DataCloneError", true],
  });
});

// ——— Headers ———

test("Headers: case-insensitive, combined and sorted iteration, set-cookie kept apart", async () => {
  const value = await job(`
    const h = new Headers([["Content-Type", "text/plain"], ["X-B", "1"]]);
    h.append("x-b", "2");
    h.append("Set-Cookie", "a=1; Path=/");
    h.append("set-cookie", "b=2");
    h.append("Accept", "  text/html \\t");
    const error = (fn) => { try { fn(); return "ok"; } catch (e) { return e.name; } };
    const seen = [];
    h.forEach((value, name, self) => seen.push(name + "=" + value + ":" + (self === h)));
    const copy = new Headers(h);
    copy.set("X-B", "only");
    copy.delete("content-type");
    return {
      get: [h.get("CONTENT-TYPE"), h.get("x-b"), h.get("set-cookie"), h.get("accept"), h.get("missing")],
      has: [h.has("X-b"), h.has("nope")],
      entries: [...h],
      keys: [...h.keys()],
      cookies: h.getSetCookie(),
      seen,
      copy: [...copy],
      original: h.get("x-b"),
      record: [...new Headers({ Z: "z", a: "a" })],
      errors: [
        error(() => h.append("bad name", "v")),
        error(() => h.append("x", "line\\nbreak")),
        error(() => h.set("x", "€")),
        error(() => new Headers([["only-one"]])),
        error(() => new Headers("nope")),
      ],
      latin1: new Headers({ x: "é" }).get("x"),
      emptyCookies: new Headers().getSetCookie(),
    };
  `);
  assert.deepEqual(value.get, ["text/plain", "1, 2", "a=1; Path=/, b=2", "text/html", null]);
  assert.deepEqual(value.has, [true, false]);
  assert.deepEqual(value.entries, [
    ["accept", "text/html"], ["content-type", "text/plain"], ["set-cookie", "a=1; Path=/"], ["set-cookie", "b=2"], ["x-b", "1, 2"],
  ]);
  assert.deepEqual(value.keys, ["accept", "content-type", "set-cookie", "set-cookie", "x-b"]);
  assert.deepEqual(value.cookies, ["a=1; Path=/", "b=2"]);
  assert.deepEqual(value.seen, ["accept=text/html:true", "content-type=text/plain:true", "set-cookie=a=1; Path=/:true", "set-cookie=b=2:true", "x-b=1, 2:true"]);
  assert.deepEqual(value.copy, [["accept", "text/html"], ["set-cookie", "a=1; Path=/"], ["set-cookie", "b=2"], ["x-b", "only"]]);
  assert.equal(value.original, "1, 2");
  assert.deepEqual(value.record, [["a", "a"], ["z", "z"]]);
  assert.deepEqual(value.errors, ["TypeError", "TypeError", "TypeError", "TypeError", "TypeError"]);
  assert.equal(value.latin1, "é");
  assert.deepEqual(value.emptyCookies, []);
});

// ——— Request ———

test("Request: URL and method normalisation, init handling, bodies, clone, signal", async () => {
  const value = await job(`
    const error = (fn) => { try { fn(); return "ok"; } catch (e) { return e.name + ": " + e.message; } };
    const r = new Request("https://EX.com/a?b#c", { method: "post", headers: { "X-A": "1" }, body: "hello" });
    const patch = new Request("https://ex.com/", { method: "patch" });
    const copy = new Request(r, { headers: { "x-b": "2" } });
    const controller = new AbortController();
    const withSignal = new Request("https://ex.com/", { signal: controller.signal });
    const follower = new Request(withSignal);
    controller.abort("stop");
    const c1 = new Request("https://ex.com/", { method: "PUT", body: "twice" });
    const c2 = c1.clone();
    return {
      basics: [r.url, r.method, r.headers.get("x-a"), r.headers.get("content-type"), r.redirect, r.mode, r.credentials, r.cache, r.referrer, r.destination, r.keepalive, r.duplex],
      patch: patch.method,
      moved: [copy.method, copy.url, copy.headers.get("x-b"), copy.headers.get("x-a"), r.bodyUsed, await copy.text()],
      reuse: error(() => new Request(r)),
      signals: [withSignal.signal.aborted, withSignal.signal.reason, follower.signal.aborted, follower.signal !== withSignal.signal],
      clones: [await c1.text(), await c2.text(), c1.bodyUsed, c2.bodyUsed],
      errors: [
        error(() => new Request("/relative")),
        error(() => new Request("https://user:pw@ex.com/")),
        error(() => new Request("https://ex.com/", { method: "GET", body: "x" })),
        error(() => new Request("https://ex.com/", { method: "CONNECT" })),
        error(() => new Request("https://ex.com/", { method: "bad method" })),
        error(() => new Request("https://ex.com/", { mode: "navigate" })),
        error(() => new Request("https://ex.com/", { redirect: "sideways" })),
        error(() => new Request("https://ex.com/", { method: "POST", body: new ReadableStream() })),
      ],
      streamWithDuplex: await new Request("https://ex.com/", { method: "POST", duplex: "half", body: new Blob(["blob body"]).stream() }).text(),
      nullBody: [new Request("https://ex.com/").body, await new Request("https://ex.com/").text()],
    };
  `);
  assert.deepEqual(value.basics, ["https://ex.com/a?b#c", "POST", "1", "text/plain;charset=UTF-8", "follow", "cors", "same-origin", "default", "about:client", "", false, "half"]);
  assert.equal(value.patch, "patch");
  assert.deepEqual(value.moved, ["POST", "https://ex.com/a?b#c", "2", null, true, "hello"]);
  assert.match(value.reuse, /^TypeError/);
  assert.deepEqual(value.signals, [true, "stop", true, true]);
  assert.deepEqual(value.clones, ["twice", "twice", true, true]);
  assert.match(value.errors[0], /^TypeError: .*Failed to parse URL/);
  assert.match(value.errors[1], /^TypeError: .*credentials/);
  assert.match(value.errors[2], /^TypeError: Request with GET\/HEAD method cannot have body/);
  for (const error of value.errors.slice(3)) assert.match(error, /^TypeError/);
  assert.equal(value.streamWithDuplex, "blob body");
  assert.deepEqual(value.nullBody, [null, ""]);
});

// ——— Response and the Body mixin ———

test("Response: constructor checks, statics json/redirect/error", async () => {
  const value = await job(`
    const error = (fn) => { try { fn(); return "ok"; } catch (e) { return e.name; } };
    const r = new Response("body", { status: 201, statusText: "Created", headers: { "X-A": "1" } });
    const json = Response.json({ a: [1, 2] }, { status: 202, headers: { "x-j": "1" } });
    const redirect = Response.redirect("https://ex.com/next", 307);
    const failure = Response.error();
    return {
      r: [r.status, r.statusText, r.ok, r.type, r.url, r.redirected, r.headers.get("x-a"), r.headers.get("content-type")],
      defaults: (() => { const d = new Response(); return [d.status, d.statusText, d.ok, d.body, d.bodyUsed]; })(),
      json: [json.status, json.headers.get("content-type"), json.headers.get("x-j"), await json.json()],
      redirect: [redirect.status, redirect.headers.get("location"), error(() => redirect.headers.set("x", "y"))],
      failure: [failure.type, failure.status, failure.ok, failure.body, error(() => failure.headers.append("x", "y"))],
      errors: [
        error(() => new Response("x", { status: 99 })),
        error(() => new Response("x", { status: 600 })),
        error(() => new Response("x", { status: 204 })),
        error(() => new Response("x", { statusText: "bad\\ntext" })),
        error(() => Response.redirect("https://ex.com/", 200)),
        error(() => Response.redirect("/relative")),
        error(() => Response.json(undefined)),
      ],
      nullStatus: [new Response(null, { status: 204 }).status, new Response(undefined, { status: 304 }).body],
      mutable: (() => { const m = new Response(null, { status: 404 }); m.headers.set("x-late", "yes"); return m.headers.get("x-late"); })(),
    };
  `);
  assert.deepEqual(value.r, [201, "Created", true, "default", "", false, "1", "text/plain;charset=UTF-8"]);
  assert.deepEqual(value.defaults, [200, "", true, null, false]);
  assert.deepEqual(value.json, [202, "application/json", "1", { a: [1, 2] }]);
  assert.deepEqual(value.redirect, [307, "https://ex.com/next", "TypeError"]);
  assert.deepEqual(value.failure, ["error", 0, false, null, "TypeError"]);
  assert.deepEqual(value.errors, ["RangeError", "RangeError", "TypeError", "TypeError", "RangeError", "TypeError", "TypeError"]);
  assert.deepEqual(value.nullStatus, [204, null]);
  assert.equal(value.mutable, "yes");
});

test("Body: every kind of init, default Content-Type, every reader, bodyUsed and second reads", async () => {
  const value = await job(`
    const type = (body) => new Response(body).headers.get("content-type");
    const form = new FormData(); form.append("a", "1");
    const u8 = new Uint8Array([104, 105]);
    const fromView = new Response(u8);
    u8[0] = 0; // the body copied the bytes at construction
    const reject = (promise) => promise.then(() => "resolved", (e) => e.name);
    const once = new Response("once");
    const first = once.text();
    const second = await reject(once.text());
    return {
      types: [type("s"), type(new URLSearchParams("a=1")), type(form).startsWith("multipart/form-data; boundary="), type(new Blob(["x"], { type: "Image/PNG" })), type(new Blob(["x"])), type(new ArrayBuffer(1)), type(new Uint8Array(1)), type(new ReadableStream()), type(null)],
      explicitType: new Response("x", { headers: { "content-type": "text/csv" } }).headers.get("content-type"),
      view: await fromView.text(),
      dataView: await new Response(new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2)).bytes().then((b) => Array.from(b)),
      arrayBuffer: await new Response("abc").arrayBuffer().then((b) => [b instanceof ArrayBuffer, b.byteLength]),
      bytes: await new Response("é").bytes().then((b) => [b instanceof Uint8Array, Array.from(b)]),
      blob: await new Response("blob!", { headers: { "content-type": "Text/Plain; Charset=UTF-8" } }).blob().then(async (b) => [b.type, b.size, await b.text()]),
      json: await new Response('{"x":[1,{"y":null}]}').json(),
      badJson: await reject(new Response("{nope").json()),
      urlencoded: await new Response(new URLSearchParams({ q: "a b", r: "€" })).text(),
      other: await new Response(12345).text(),
      second: [await first, second, once.bodyUsed],
      unread: [new Response("x").bodyUsed, new Response(null).bodyUsed],
      bom: await new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69])).text(),
      lone: await new Response("a\\ud800").text(),
      streamRead: await (async () => {
        const res = new Response("streamed text");
        const reader = res.body.getReader();
        const chunks = [];
        for (;;) { const { done, value } = await reader.read(); if (done) break; chunks.push(...value); }
        return [new TextDecoder().decode(new Uint8Array(chunks)), res.bodyUsed, await reject(res.text())];
      })(),
      sameStream: (() => { const res = new Response("x"); return res.body === res.body; })(),
      clone: await (async () => {
        const res = new Response("shared", { status: 203, headers: { "x-h": "1" } });
        const copy = res.clone();
        copy.headers.set("x-h", "2");
        return [await res.text(), await copy.text(), copy.status, res.headers.get("x-h"), copy.headers.get("x-h")];
      })(),
      cloneAfterStream: await (async () => {
        const res = new Response("via stream");
        res.body; // make the stream first, then tee it
        const copy = res.clone();
        return [await copy.text(), await res.text()];
      })(),
      cloneUsed: await (async () => { const res = new Response("x"); await res.text(); try { res.clone(); return "cloned"; } catch (e) { return e.name; } })(),
      detachedGetter: await reject(Response.prototype.text.call({})),
    };
  `);
  assert.deepEqual(value.types, [
    "text/plain;charset=UTF-8", "application/x-www-form-urlencoded;charset=UTF-8", true, "image/png", null, null, null, null, null,
  ]);
  assert.equal(value.explicitType, "text/csv");
  assert.equal(value.view, "hi");
  assert.deepEqual(value.dataView, [2, 3]);
  assert.deepEqual(value.arrayBuffer, [true, 3]);
  assert.deepEqual(value.bytes, [true, [0xc3, 0xa9]]);
  assert.deepEqual(value.blob, ["text/plain;charset=utf-8", 5, "blob!"]); // a Blob's type is lower-cased
  assert.deepEqual(value.json, { x: [1, { y: null }] });
  assert.equal(value.badJson, "SyntaxError");
  assert.equal(value.urlencoded, "q=a+b&r=%E2%82%AC");
  assert.equal(value.other, "12345");
  assert.deepEqual(value.second, ["once", "TypeError", true]);
  assert.deepEqual(value.unread, [false, false]);
  assert.equal(value.bom, "hi");
  assert.equal(value.lone, "a\ufffd");
  assert.deepEqual(value.streamRead, ["streamed text", true, "TypeError"]);
  assert.equal(value.sameStream, true);
  assert.deepEqual(value.clone, ["shared", "shared", 203, "1", "2"]);
  assert.deepEqual(value.cloneAfterStream, ["via stream", "via stream"]);
  assert.equal(value.cloneUsed, "TypeError");
  assert.equal(value.detachedGetter, "TypeError");
});

test("ReadableStream bodies: new Response(stream), TransformStream, TextEncoderStream/TextDecoderStream", async () => {
  const value = await job(`
    const enc = new TextEncoder();
    const source = new ReadableStream({
      start(controller) { controller.enqueue(enc.encode("chunk one, ")); controller.enqueue(enc.encode("chunk two")); controller.close(); },
    });
    const fromStream = await new Response(source).text();
    const upper = new TransformStream({ transform(chunk, controller) { controller.enqueue(chunk.toUpperCase()); } });
    const piped = new Response("shout").body.pipeThrough(new TextDecoderStream()).pipeThrough(upper).pipeThrough(new TextEncoderStream());
    const shouted = await new Response(piped).text();
    const bad = await new Response(new ReadableStream({ start(c) { c.enqueue("not bytes"); c.close(); } })).text().then(() => "resolved", (e) => e.name);
    const splitEmoji = new TextDecoderStream();
    const writer = splitEmoji.writable.getWriter();
    const bytes = enc.encode("😀");
    writer.write(bytes.slice(0, 2)); writer.write(bytes.slice(2)); writer.close();
    let decoded = ""; for await (const part of splitEmoji.readable) decoded += part;
    const collected = [];
    const sink = new WritableStream({ write(chunk) { collected.push(chunk); } });
    await ReadableStream.from(["a", "b", "c"]).pipeTo(sink);
    const [left, right] = new Response("tee").body.tee();
    return { fromStream, shouted, bad, decoded, collected, tee: [await new Response(left).text(), await new Response(right).text()] };
  `);
  assert.deepEqual(value, {
    fromStream: "chunk one, chunk two", shouted: "SHOUT", bad: "TypeError", decoded: "😀", collected: ["a", "b", "c"], tee: ["tee", "tee"],
  });
});

// ——— Blob, File, FormData ———

test("Blob and File: parts, slicing, type, readers, stream", async () => {
  const value = await job(`
    const blob = new Blob(["héllo", new Uint8Array([32]), new Blob(["wörld"])], { type: "Text/Plain" });
    const sliceText = async (...args) => blob.slice(...args).text();
    const file = new File(["data"], "notes.txt", { type: "text/plain", lastModified: 42 });
    let streamed = ""; for await (const chunk of blob.stream()) streamed += new TextDecoder().decode(chunk);
    return {
      blob: [blob.size, blob.type, await blob.text()],
      slices: [await sliceText(0, 6), await sliceText(-6), await sliceText(7, -3), await sliceText(100), await sliceText(3, 1), blob.slice(0, 1, "X/Y").type],
      bytes: Array.from(await new Blob([new Uint16Array([0x0102])]).bytes()),
      arrayBuffer: (await blob.arrayBuffer()).byteLength,
      endings: await new Blob(["a\\r\\nb\\rc"], { endings: "native" }).text(),
      badType: new Blob([], { type: "é" }).type,
      file: [file.name, file.size, file.type, file.lastModified, file instanceof Blob, Object.prototype.toString.call(file)],
      streamed,
      copyIsIndependent: await (async () => { const b = await blob.bytes(); b[0] = 0; return (await blob.bytes())[0]; })(),
    };
  `);
  assert.deepEqual(value.blob, [13, "text/plain", "héllo wörld"]);
  assert.deepEqual(value.slices, ["héllo", "wörld", "wö", "", "", "x/y"]);
  assert.deepEqual(value.bytes, [2, 1]);
  assert.equal(value.arrayBuffer, 13);
  assert.equal(value.endings, "a\nb\nc");
  assert.equal(value.badType, "");
  assert.deepEqual(value.file, ["notes.txt", 4, "text/plain", 42, true, "[object File]"]);
  assert.equal(value.streamed, "héllo wörld");
  assert.equal(value.copyIsIndependent, 104);
});

test("FormData: entries, Blob values, multipart serialisation and formData() parsing", async () => {
  const value = await job(`
    const form = new FormData();
    form.append("name", "Ann");
    form.append("tags", "a");
    form.append("tags", "b");
    form.append("upload", new Blob(["file body"], { type: "text/x-custom" }), "a.txt");
    form.append("blob", new Blob(["no name"]));
    form.set("name", "Bob");
    form.append("multi\\nline", "x\\ny");
    const entries = [...form].map(([k, v]) => [k, typeof v === "string" ? v : [v.constructor.name, v.name, v.type, v.size]]);
    const request = new Request("https://ex.com/", { method: "POST", body: form });
    const contentType = request.headers.get("content-type");
    const raw = await request.clone().text();
    const parsed = await request.formData();
    const upload = parsed.get("upload");
    form.delete("tags");
    return {
      entries, has: [form.has("tags"), form.has("name")], getAll: parsed.getAll("tags"),
      contentType, rawHasBoundary: raw.includes(contentType.split("boundary=")[1]),
      rawDisposition: raw.includes('Content-Disposition: form-data; name="upload"; filename="a.txt"\\r\\nContent-Type: text/x-custom'),
      parsed: [parsed.get("name"), upload.name, upload.type, await upload.text(), parsed.get("blob").name, parsed.get("multi\\r\\nline")],
      badArgs: (() => { try { form.append("x", "y", "z"); return "ok"; } catch (e) { return e.name; } })(),
    };
  `);
  assert.deepEqual(value.entries, [
    ["name", "Bob"], ["tags", "a"], ["tags", "b"], ["upload", ["File", "a.txt", "text/x-custom", 9]], ["blob", ["File", "blob", "", 7]], ["multi\nline", "x\ny"],
  ]);
  assert.deepEqual(value.has, [false, true]);
  assert.deepEqual(value.getAll, ["a", "b"]);
  assert.match(value.contentType, /^multipart\/form-data; boundary=.+$/);
  assert.equal(value.rawHasBoundary, true);
  assert.equal(value.rawDisposition, true);
  assert.deepEqual(value.parsed, ["Bob", "a.txt", "text/x-custom", "file body", "blob", "x\r\ny"]);
  assert.equal(value.badArgs, "TypeError");
});

test("formData() parses a multipart body as a browser sends it, and urlencoded bodies", async () => {
  const boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
  const body = [
    `--${boundary}`, 'Content-Disposition: form-data; name="title"', "", "Héllo wörld",
    `--${boundary}`, 'Content-Disposition: form-data; name="file"; filename="photo.png"', "Content-Type: image/png", "", "\x89PNG-bytes",
    `--${boundary}`, 'Content-Disposition: form-data; name="empty"; filename=""', "Content-Type: application/octet-stream", "", "",
    `--${boundary}--`, "",
  ].join("\r\n");
  const value = await job(`
    const reject = (promise) => promise.then(() => "resolved", (e) => e.name);
    const request = new Request("https://ex.com/upload", { method: "POST", headers: { "content-type": payload.type }, body: payload.body });
    const form = await request.formData();
    const file = form.get("file");
    return {
      title: form.get("title"),
      file: [file instanceof File, file.name, file.type, file.size],
      empty: [form.get("empty").name, form.get("empty").size],
      urlencoded: [...await new Response("a=1&b=x+y&c=%E2%82%AC&a=2", { headers: { "content-type": "application/x-www-form-urlencoded" } }).formData()],
      wrongType: await reject(new Response("a=1", { headers: { "content-type": "text/plain" } }).formData()),
      noBoundary: await reject(new Response("x", { headers: { "content-type": "multipart/form-data" } }).formData()),
      broken: await reject(new Response("garbage", { headers: { "content-type": "multipart/form-data; boundary=zzz" } }).formData()),
    };
  `, { payload: { type: `multipart/form-data; boundary=${boundary}`, body } });
  assert.equal(value.title, "Héllo wörld");
  assert.deepEqual(value.file, [true, "photo.png", "image/png", Buffer.byteLength("\x89PNG-bytes")]);
  assert.deepEqual(value.empty, ["", 0]);
  assert.deepEqual(value.urlencoded, [["a", "1"], ["b", "x y"], ["c", "€"], ["a", "2"]]);
  assert.deepEqual([value.wrongType, value.noBoundary, value.broken], ["TypeError", "TypeError", "TypeError"]);
});

// ——— fetch ———

test("fetch sends a WireRequest to the host and turns the WireResponse into a Response", async () => {
  const seen: WireRequest[] = [];
  const value = await job(`
    const res = await fetch("https://api.example.com/items?x=1", {
      method: "POST",
      headers: { "X-Token": "t", "Content-Type": "application/json" },
      body: JSON.stringify({ hello: "wörld" }),
      redirect: "manual",
    });
    const headersImmutable = (() => { try { res.headers.set("x", "y"); return "mutable"; } catch (e) { return e.name; } })();
    const again = await fetch(new Request("https://api.example.com/get", { headers: { accept: "text/plain" } }));
    return {
      res: [res.status, res.statusText, res.ok, res.url, res.redirected, res.type, res.headers.get("content-type"), res.headers.getSetCookie(), await res.json()],
      headersImmutable,
      again: [again.status, await again.text()],
    };
  `, {
    fetch: async (request) => {
      seen.push(request);
      if (request.url.endsWith("/get")) return wireResponse(200, [], "plain");
      return wireResponse(201, ["content-type", "application/json", "set-cookie", "a=1", "set-cookie", "b=2"], '{"created":true}', {
        statusText: "Created", url: "https://api.example.com/final#frag", redirected: true,
      });
    },
  });
  assert.deepEqual(value.res, [201, "Created", true, "https://api.example.com/final", true, "basic", "application/json", ["a=1", "b=2"], { created: true }]);
  assert.equal(value.headersImmutable, "TypeError");
  assert.deepEqual(value.again, [200, "plain"]);
  const [post, get] = seen;
  assert.equal(post.method, "POST");
  assert.equal(post.url, "https://api.example.com/items?x=1");
  assert.deepEqual(post.headers, ["content-type", "application/json", "x-token", "t", "accept", "*/*"]);
  assert.equal(decode(post.body), '{"hello":"wörld"}');
  assert.equal(post.redirect, "manual");
  assert.deepEqual(get.headers, ["accept", "text/plain"]);
  assert.equal(get.body, null);
  assert.equal(get.redirect, "follow");
});

test("fetch honours init.signal and passes host failures through", async () => {
  let calls = 0;
  const value = await job(`
    const reject = (promise) => promise.then((r) => "resolved " + r.status, (e) => [e.name, e.message]);
    const controller = new AbortController();
    const pending = fetch("https://slow.example/", { signal: controller.signal });
    setTimeout(() => controller.abort(), 5);
    const aborted = await reject(pending);
    const custom = new AbortController(); custom.abort(new RangeError("my reason"));
    const preAborted = await reject(fetch("https://slow.example/", { signal: custom.signal }));
    const timedOut = await reject(fetch("https://slow.example/", { signal: AbortSignal.timeout(5) }));
    const refused = await reject(fetch("https://refused.example/"));
    const badUrl = await reject(fetch("not a url"));
    const getBody = await reject(fetch("https://x.example/", { body: "x" }));
    return { aborted, preAborted, timedOut, refused, badUrl, getBody };
  `, {
    fetch: async (request) => {
      calls++;
      if (request.url.startsWith("https://refused")) throw new TypeError("ERR_EGRESS_DENIED: refused.example is not allowed");
      await new Promise((resolve) => setTimeout(resolve, 50));
      return wireResponse(200, [], "too late");
    },
  });
  assert.deepEqual(value.aborted, ["AbortError", "This operation was aborted"]);
  assert.deepEqual(value.preAborted, ["RangeError", "my reason"]);
  assert.equal(value.timedOut[0], "TimeoutError");
  assert.deepEqual(value.refused, ["TypeError", "ERR_EGRESS_DENIED: refused.example is not allowed"]);
  assert.equal(value.badUrl[0], "TypeError");
  assert.equal(value.getBody[0], "TypeError");
  assert.equal(calls, 3); // the pre-aborted and invalid requests never reached the host
});

test("fetch handlers receive a Request and answer with a WireResponse", async () => {
  const sandbox = await Sandbox.boot(64);
  try {
    await sandbox.load(`export default { async fetch(request, env, ctx) {
      const body = request.method === "POST" ? await request.json() : null;
      return new Response(JSON.stringify({
        method: request.method, url: request.url, agent: request.headers.get("user-agent"), body,
        signal: request.signal instanceof AbortSignal && !request.signal.aborted, used: request.bodyUsed,
      }), { status: 200, headers: { "x-echo": "1", "set-cookie": "s=1" } });
    } }`, "file:///t.js", 1000);
    const hooks: InvocationHost = { log: () => {}, fetch: noNetwork };
    const response = (await dispatch(sandbox, "fetch", INFO, {
      method: "POST", url: "https://fn.example/path?q=1", headers: ["content-type", "application/json", "user-agent", "test"], body: encode('{"n":1}'),
    }, hooks)).value as WireResponse;
    assert.equal(response.status, 200);
    assert.deepEqual(response.headers, ["content-type", "text/plain;charset=UTF-8", "set-cookie", "s=1", "x-echo", "1"]);
    assert.deepEqual(JSON.parse(decode(response.body)!), {
      method: "POST", url: "https://fn.example/path?q=1", agent: "test", body: { n: 1 }, signal: true, used: true,
    });
    const head = (await dispatch(sandbox, "fetch", { ...INFO, runId: "r2" }, { method: "GET", url: "https://fn.example/", headers: [], body: null }, hooks)).value as WireResponse;
    assert.equal(JSON.parse(decode(head.body)!).body, null);
  } finally {
    sandbox.dispose();
  }
});

// ——— Hono ———

const HONO_APP = `
import { Hono } from "hono";
import { setCookie } from "hono/cookie";

export const app = new Hono();
app.use("*", async (c, next) => {
  await next();
  c.res.headers.set("x-powered", "hono");
});
app.get("/", (c) => c.text("Hello Hono"));
app.get("/json", (c) => c.json({ ok: true, list: [1, 2, 3] }));
app.get("/html", (c) => c.html("<h1>Hi</h1>"));
app.get("/users/:id", (c) => c.json({ id: c.req.param("id"), q: c.req.query("q") ?? null, tags: c.req.queries("tag") ?? [] }));
app.get("/files/*", (c) => c.text("path " + c.req.path));
app.post("/echo", async (c) => c.json({ got: await c.req.json(), type: c.req.header("content-type") }, 201));
app.post("/text", async (c) => c.text((await c.req.text()).toUpperCase()));
app.post("/form", async (c) => c.json(await c.req.parseBody()));
app.put("/bytes", async (c) => c.json({ size: (await c.req.arrayBuffer()).byteLength }));
app.get("/redirect", (c) => c.redirect("/target"));
app.get("/moved", (c) => c.redirect("https://elsewhere.example/", 301));
app.get("/cookies", (c) => {
  setCookie(c, "a", "1", { path: "/" });
  setCookie(c, "b", "2", { httpOnly: true });
  c.header("X-Custom", "custom");
  c.status(202);
  return c.body("with cookies");
});
app.get("/headers", (c) => c.json({ agent: c.req.header("user-agent") ?? null, all: c.req.header() }));
app.get("/missing", (c) => c.notFound());
app.get("/throw", () => { throw new Error("handler failed"); });
app.delete("/items/:id", (c) => c.body(null, 204));
app.onError((err, c) => c.json({ error: err.message }, 500));
`;

async function bundleHono(platform: "neutral" | "node", footer: string): Promise<string> {
  const result = await build({
    stdin: { contents: HONO_APP + footer, resolveDir: process.cwd(), sourcefile: "app.ts", loader: "ts" },
    bundle: true, format: "esm", write: false, platform, mainFields: ["module", "main"], logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

interface HonoCase {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

const HONO_CASES: HonoCase[] = [
  { method: "GET", path: "/" },
  { method: "GET", path: "/json" },
  { method: "GET", path: "/html" },
  { method: "GET", path: "/users/42?q=search%20term&tag=a&tag=b" },
  { method: "GET", path: "/files/a/b/c.txt" },
  { method: "POST", path: "/echo", headers: { "content-type": "application/json" }, body: '{"name":"Ann","n":[1,2]}' },
  { method: "POST", path: "/text", body: "shout this" },
  { method: "POST", path: "/form", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a=1&b=two+words" },
  {
    method: "POST", path: "/form", headers: { "content-type": "multipart/form-data; boundary=XyZ" },
    body: '--XyZ\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue one\r\n--XyZ\r\nContent-Disposition: form-data; name="other"\r\n\r\n2\r\n--XyZ--\r\n',
  },
  { method: "PUT", path: "/bytes", body: "12345" },
  { method: "GET", path: "/redirect" },
  { method: "GET", path: "/moved" },
  { method: "GET", path: "/cookies" },
  { method: "GET", path: "/headers", headers: { "user-agent": "tester", "x-one": "1" } },
  { method: "GET", path: "/missing" },
  { method: "GET", path: "/nothing/here" },
  { method: "GET", path: "/throw" },
  { method: "DELETE", path: "/items/7" },
  { method: "PATCH", path: "/json" },
];

test("a Hono app bundled into the guest answers exactly like the same app in Node", async () => {
  const nodeModule = await bundleHono("node", "");
  const { app } = await import(`data:text/javascript;base64,${Buffer.from(nodeModule).toString("base64")}`);
  const guestModule = await bundleHono("neutral", "\nexport default { fetch: (request, env, ctx) => app.fetch(request, env, ctx) };\n");

  const sandbox = await Sandbox.boot(64);
  try {
    await sandbox.load(guestModule, "file:///hono.js", 5000);
    const logs: Log[] = [];
    const hooks: InvocationHost = { log: (level, message, fields) => logs.push(fields === undefined ? [level, message] : [level, message, JSON.parse(fields)]), fetch: noNetwork };
    let run = 0;
    for (const item of HONO_CASES) {
      const expected: globalThis.Response = await app.request(item.path, { method: item.method, headers: item.headers, body: item.body });
      const expectedHeaders: string[] = [];
      for (const [name, value] of expected.headers) expectedHeaders.push(name, value);
      const expectedBody = await expected.text();

      const headerPairs = Object.entries(item.headers ?? {}).flat();
      const actual = (await dispatch(sandbox, "fetch", { ...INFO, runId: `hono-${run++}` }, {
        method: item.method, url: `http://localhost${item.path}`, headers: headerPairs, body: item.body === undefined ? null : encode(item.body),
      }, hooks)).value as WireResponse;

      const label = `${item.method} ${item.path}`;
      assert.equal(actual.status, expected.status, label);
      assert.deepEqual(actual.headers, expectedHeaders, label);
      assert.equal(decode(actual.body) ?? "", expectedBody, label);
    }
    assert.deepEqual(logs, []);
  } finally {
    sandbox.dispose();
  }
});

test("an idle isolate stays small: URL and streams load on first use", async () => {
  (await Sandbox.boot(64)).dispose(); // builds the runtime bundle and its code cache
  const sandbox = await Sandbox.boot(64);
  try {
    const idle = (await sandbox.heapStatistics()).used_heap_size;
    assert.ok(idle < 2 * 1024 * 1024, `idle heap ${idle} bytes`);
    // The runtime loads both itself first (a Request parses its URL, a body makes a stream);
    // the globals must then still be the real classes.
    await sandbox.load(`export default { job() {
      const request = new Request("https://a.b/c");
      const stream = new Response("x").body;
      return [new URL(request.url).pathname, stream instanceof ReadableStream, URL.name, typeof TransformStream];
    } }`, "file:///t.js", 1000);
    const { value } = await dispatch(sandbox, "job", INFO, null, { log: () => {}, fetch: noNetwork });
    assert.deepEqual(value, ["/c", true, "URL", "function"]);
    const loaded = (await sandbox.heapStatistics()).used_heap_size;
    assert.ok(loaded > idle, `heap after loading URL and streams: ${loaded} > ${idle}`);
  } finally {
    sandbox.dispose();
  }
});

// ——— Intl (web/intl.ts: the same API over a bounded cache of ICU objects) ———

test("Intl: formatters, collators and the toLocaleString family give what the host's Intl gives", async () => {
  const cases = `[
    new Intl.DateTimeFormat("de-DE", { timeZone: "Europe/Berlin", dateStyle: "full", timeStyle: "long" }).format(Date.UTC(2026, 2, 29, 1, 30)),
    new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", hour: "numeric", minute: "2-digit" }).formatToParts(0).map((p) => p.type + "=" + p.value).join("|"),
    Intl.DateTimeFormat("ja-JP", { timeZone: "Asia/Tokyo" }).resolvedOptions().timeZone,
    new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR" }).format(1234567.891),
    new Intl.NumberFormat("de", { notation: "compact" }).formatToParts(12345).map((p) => p.value).join(""),
    ["ä", "a", "z", "Z"].sort(new Intl.Collator("de").compare).join(""),
    ["ä", "a", "z"].sort(new Intl.Collator("sv").compare).join(""),
    new Intl.PluralRules("en", { type: "ordinal" }).select(22),
    new Intl.RelativeTimeFormat("fr", { numeric: "auto" }).format(-1, "day"),
    new Intl.ListFormat("en", { type: "disjunction" }).format(["a", "b", "c"]),
    new Intl.DisplayNames(["en"], { type: "region" }).of("DE"),
    [...new Intl.Segmenter("en", { granularity: "word" }).segment("Hello, world!")].filter((s) => s.isWordLike).map((s) => s.segment).join("/"),
    new Intl.Segmenter("en", { granularity: "grapheme" }).segment("a👍🏽b").containing(1).segment,
    new Intl.Locale("en", { region: "GB" }).maximize().toString(),
    new Date(Date.UTC(2026, 0, 2, 3, 4, 5)).toLocaleString("en-GB", { timeZone: "UTC" }),
    new Date(Date.UTC(2026, 0, 2, 3, 4, 5)).toLocaleDateString("en-US", { timeZone: "UTC" }),
    new Date(Date.UTC(2026, 0, 2, 3, 4, 5)).toLocaleTimeString("de-DE", { timeZone: "UTC" }),
    new Date(Date.UTC(2026, 0, 2)).toLocaleDateString("en-US", { timeZone: "UTC", month: "long" }),
    new Date(NaN).toLocaleString(),
    (1234.5).toLocaleString("de-DE"),
    (12345678901234567890n).toLocaleString("en"),
    "a".localeCompare("B", "en", { sensitivity: "base" }),
    "résumé".localeCompare("resume", "en", { sensitivity: "base" }),
    Intl.DateTimeFormat.supportedLocalesOf(["de", "zz"]).join(),
    Object.prototype.toString.call(new Intl.NumberFormat()),
    new Intl.NumberFormat() instanceof Intl.NumberFormat,
    (() => { const f = new Intl.DateTimeFormat("en", { timeZone: "UTC" }); return f.format === f.format && [0, 86400000].map(f.format).join(); })(),
    (() => { try { new Intl.DateTimeFormat("en", { timeZone: "Mars/Olympus" }); return "accepted"; } catch (e) { return e.name; } })(),
    (() => { try { new Intl.NumberFormat("en", { style: "currency" }); return "accepted"; } catch (e) { return e.name; } })(),
  ]`;
  const expected = new Function(`return ${cases}`)();
  const value = await job(`return ${cases};`);
  assert.deepEqual(value, expected);
});

test("Intl: more than 256 distinct formatters alive at once is a RangeError; the same options made anew are free", async () => {
  const value = await job(`
    const same = [];
    for (let i = 0; i < 10000; i++) same.push(new Intl.DateTimeFormat("en", { timeZone: "UTC", hour: "numeric" }));
    const zones = Intl.supportedValuesOf("timeZone");
    const kept = [];
    try { for (const timeZone of zones) kept.push(new Intl.DateTimeFormat("en", { timeZone, minute: "numeric" })); }
    catch (error) { return { same: same.length, format: same[9999].format(3600000), stoppedAt: kept.length, error: error.name, zones: zones.length > 256 }; }
    return { same: same.length, kept: kept.length };
  `);
  assert.equal(value.same, 10000);
  assert.equal(value.format, new Intl.DateTimeFormat("en", { timeZone: "UTC", hour: "numeric" }).format(3600000));
  assert.equal(value.error, "RangeError");
  assert.ok(value.zones);
  assert.ok(value.stoppedAt < 256 && value.stoppedAt > 200, `stopped at ${value.stoppedAt}`);
});
