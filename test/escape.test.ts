// Escape attempts from guest code, end to end: a real node on a loopback port runs functions that
// try every path out of the isolate we know of, and each reports as JSON what it found. The
// asserts are on those reports: nothing of the host is reachable, the node stays up, and no
// tenant's meddling reaches another function or the host.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import ivm from "isolated-vm";
import { createBindings } from "../sandbox/host/bindings.ts";
import { HostWork, type InvocationHost } from "../sandbox/host/host-work.ts";
import type { DispatchResult, WireRequest } from "../sandbox/protocol.ts";
import { startBox, type TestBox } from "./helpers/box.ts";
import { call, outcome } from "./helpers/http.ts";
import { eventually } from "./helpers/wait.ts";

const PUBLIC = { auth: "public" };
const LIMITS = { cpuMs: 1000, memoryMb: 64, wallMs: 5000 };
const MANIFEST = { routes: PUBLIC, limits: LIMITS };

/** What must never be visible inside an isolate. */
const FORBIDDEN = ["process", "require", "Buffer", "global", "module", "exports", "__dirname", "__filename", "__isoboxHost", "__isoboxRuntime", "ivm", "_ivm"];
const CLEAN = FORBIDDEN.map(() => "undefined").join();

// Helpers every probing function starts with. through(F) runs F(PROBE)() for a Function-like
// constructor F (sync, async or generator) and returns what that code saw: CLEAN, or "threw X".
const PRELUDE = `
const FORBIDDEN = ${JSON.stringify(FORBIDDEN)};
const PROBE = "return [" + FORBIDDEN.map((name) => "typeof " + name).join(", ") + "].join()";
const CLEAN = ${JSON.stringify(CLEAN)};
const HOST_PATH = /\\/work\\/|node_modules|sandbox\\/host|isolated-vm\\.|\\.ts:\\d/;
function nameOf(error) {
  try { return String(error && error.name); } catch { return "?"; }
}
async function through(F) {
  let made;
  try { made = F(PROBE); } catch (error) { return "threw " + nameOf(error); }
  // Not a function maker (e.g. fetch, which returns a promise): nothing to run.
  if (made && typeof made.then === "function") { made.then(undefined, () => {}); return "threw not a function"; }
  if (typeof made !== "function") return "threw not a function";
  let value;
  try { value = made(); } catch (error) { return "threw " + nameOf(error); }
  try {
    if (value && typeof value.next === "function") value = (await value.next()).value;
    else value = await value;
  } catch (error) { return "threw " + nameOf(error); }
  return value;
}
function attempt(fn) {
  try { const value = fn(); return { ok: typeof value }; }
  catch (error) { return { threw: nameOf(error), message: String(error && error.message) }; }
}
async function settle(fn) {
  try { const value = await fn(); return { ok: value === undefined ? "undefined" : Object.prototype.toString.call(value) }; }
  catch (error) { return { threw: nameOf(error), message: String(error && error.message).slice(0, 200) }; }
}
`;

let t: TestBox;
let healthy: string;

before(async () => {
  t = await startBox();
  healthy = await t.deploy("healthy", `export default { async fetch() { return Response.json({ ok: true }); } };`, MANIFEST);
});

after(async () => {
  await t?.close();
});

/** Deploys `handler` (the body of an async fetch(request, env, ctx) method) and calls it once. */
async function probe(name: string, handler: string, manifest: unknown = MANIFEST, path = "/") {
  const url = await t.deploy(name, `${PRELUDE}\nexport default { async fetch(request, env, ctx) {\n${handler}\n} };`, manifest);
  const answer = await call(url + path);
  return { url, answer };
}

/** A probe that must answer 200 with a JSON report; returns the report. */
async function report(name: string, handler: string, manifest?: unknown): Promise<any> {
  const { answer } = await probe(name, handler, manifest);
  assert.equal(outcome(answer), "200", `${name} answered ${answer.text.slice(0, 500)}`);
  return answer.body;
}

async function nodeAlive(): Promise<void> {
  assert.equal(outcome(await call(t.url + "/healthz")), "200");
  const other = await call(healthy);
  assert.equal(outcome(other), "200");
  assert.deepEqual(other.body, { ok: true });
}

describe("constructor chains", () => {
  test('this.constructor.constructor("return process")() finds no process', async () => {
    const found = await report("ctor-literal", `
      return Response.json({
        viaThis: attempt(() => this.constructor.constructor("return process")()),
        viaGlobal: attempt(() => globalThis.constructor.constructor("return process")()),
        viaRequest: attempt(() => request.constructor.constructor("return process")()),
      });`);
    const missing = { threw: "ReferenceError", message: "process is not defined" };
    assert.deepEqual(found, { viaThis: missing, viaGlobal: missing, viaRequest: missing });
  });

  test("every Function-like constructor at hand sees no host names", async () => {
    const found = await report("ctor-kinds", `
      return Response.json({
        this: await through(this.constructor.constructor),
        globalThis: await through(globalThis.constructor.constructor),
        Function: await through(Function),
        arrow: await through((() => {}).constructor),
        async: await through((async () => {}).constructor),
        generator: await through(function* () {}.constructor),
        asyncGenerator: await through(async function* () {}.constructor),
        request: await through(request.constructor.constructor),
        headers: await through(request.headers.constructor.constructor),
        signal: await through(request.signal.constructor.constructor),
        env: await through(env.constructor.constructor),
        ctx: await through(ctx.constructor.constructor),
        waitUntil: await through(ctx.waitUntil.constructor),
        response: await through(new Response("x").constructor.constructor),
        promise: await through(Promise.resolve().constructor.constructor),
        error: await through(new Error("x").constructor.constructor),
      });`);
    const keys = ["this", "globalThis", "Function", "arrow", "async", "generator", "asyncGenerator", "request", "headers", "signal", "env", "ctx", "waitUntil", "response", "promise", "error"];
    assert.deepEqual(found, Object.fromEntries(keys.map((key) => [key, CLEAN])));
  });

  test('Function("return this")() is the guest\'s own global, without host names', async () => {
    const found = await report("global-object", `
      const viaFunction = Function("return this")();
      const viaEval = (0, eval)("this");
      return Response.json({
        same: viaFunction === globalThis && viaEval === globalThis,
        present: FORBIDDEN.filter((name) => name in viaFunction || name in viaEval),
        typeofs: FORBIDDEN.map((name) => typeof viaFunction[name]).join(),
      });`);
    assert.deepEqual(found, { same: true, present: [], typeofs: CLEAN });
  });

  test("the constructor chain of every global value, walked, reaches no host", async () => {
    const found = await report("every-global", `
      const constructors = new Map();
      const note = (value, path) => {
        if (typeof value === "function" && !constructors.has(value)) constructors.set(value, path);
      };
      const names = Object.getOwnPropertyNames(globalThis);
      for (const name of names) {
        let value;
        try { value = globalThis[name]; } catch { continue; }
        let c = value;
        for (let depth = 0; depth < 4 && c != null; depth++) {
          try { c = c.constructor; } catch { break; }
          note(c, name + ".constructor".repeat(depth + 1));
        }
        let proto = value;
        for (let depth = 0; depth < 6; depth++) {
          try { proto = Object.getPrototypeOf(proto); } catch { break; }
          if (proto == null) break;
          try { note(proto.constructor, name + " proto " + depth); } catch {}
        }
        if (typeof value === "function") {
          note(value, name);
          try { note(value.prototype && value.prototype.constructor && value.prototype.constructor.constructor, name + ".prototype.constructor.constructor"); } catch {}
        }
      }
      const bad = [];
      for (const [F, path] of constructors) {
        const saw = await through(F);
        if (saw !== CLEAN && !String(saw).startsWith("threw ")) bad.push(path + ": " + String(saw));
      }
      return Response.json({ globals: names.length, constructors: constructors.size, bad });`);
    assert.deepEqual(found.bad, []);
    assert.ok(found.globals >= 100, `only ${found.globals} globals`);
    assert.ok(found.constructors >= 80, `only ${found.constructors} functions tried`);
  });
});

describe("globals", () => {
  test("no host name is a global, the contract's Web APIs are, and no function is a bare host callback", async () => {
    const found = await report("globals", `
      const names = Object.getOwnPropertyNames(globalThis);
      const flagged = [];
      const seen = new Set();
      const visit = (value, path, depth) => {
        if (value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) return;
        seen.add(value);
        if (typeof value === "function" && value !== Function.prototype) {
          const source = Function.prototype.toString.call(value);
          // An ivm.Callback is a native function without a name; V8's builtins all have one.
          if (source.includes("[native code]") && value.name === "") flagged.push(path + ": nameless native function");
          if (/isolated-vm|__isobox|\\bivm\\b|ExternalCopy|\\/work\\//.test(source)) flagged.push(path + ": " + source.slice(0, 120));
        }
        if (depth >= 3) return;
        for (const key of Reflect.ownKeys(value)) {
          const descriptor = Object.getOwnPropertyDescriptor(value, key);
          if (descriptor && "value" in descriptor) visit(descriptor.value, path + "." + String(key), depth + 1);
        }
      };
      for (const name of names) {
        const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
        let value;
        try { value = globalThis[name]; } catch { continue; }
        visit(value, name, 0);
      }
      return Response.json({ names, flagged, symbols: Object.getOwnPropertySymbols(globalThis).map(String) });`);
    assert.deepEqual(found.names.filter((name: string) => FORBIDDEN.includes(name)), []);
    assert.deepEqual(found.flagged, []);
    const contract = ["fetch", "Request", "Response", "Headers", "URL", "URLSearchParams", "TextEncoder", "TextDecoder", "atob", "btoa", "crypto", "console", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "queueMicrotask", "structuredClone", "AbortController", "AbortSignal", "ReadableStream", "Blob", "FormData"];
    assert.deepEqual(contract.filter((name) => !found.names.includes(name)), []);
  });
});

describe("stack traces", () => {
  test("Error.prepareStackTrace: CallSites expose no function, no receiver and no host file", async () => {
    const found = await report("prepare-stack-trace", `
      const sites = [];
      Error.prepareStackTrace = (error, frames) => {
        for (const frame of frames) sites.push(frame);
        return "prepared";
      };
      const stacks = [];
      const collect = (error) => { stacks.push(String(error && error.stack)); };
      try { null.x; } catch (error) { collect(error); }
      try { new Request("::not a url"); } catch (error) { collect(error); }
      try { new Headers({ "bad name": "x" }); } catch (error) { collect(error); }
      try { crypto.getRandomValues(new Uint8Array(70000)); } catch (error) { collect(error); }
      try { await crypto.subtle.digest("MD5", new Uint8Array(1)); } catch (error) { collect(error); }
      try { await fetch("http://127.0.0.1:9/"); } catch (error) { collect(error); }
      await new Promise((resolve) => setTimeout(() => { try { null.y; } catch (error) { collect(error); } resolve(); }, 1));
      const controller = new AbortController();
      controller.signal.addEventListener("abort", () => { try { null.z; } catch (error) { collect(error); } });
      controller.abort();
      new Headers({ a: "b" }).forEach(() => { try { null.w; } catch (error) { collect(error); } });
      const stream = new ReadableStream({ pull(controller) { try { null.v; } catch (error) { collect(error); } controller.enqueue(1); } });
      await stream.getReader().read().catch(() => {});
      const captured = {};
      Error.captureStackTrace(captured);
      collect(captured);
      Error.prepareStackTrace = undefined;

      const exposed = [];
      const files = new Set();
      for (const site of sites) {
        files.add(String(site.getFileName()));
        const fn = site.getFunction();
        const self = site.getThis();
        if (fn !== undefined || self !== undefined) {
          exposed.push({
            file: String(site.getFileName()), name: String(site.getFunctionName()),
            fn: typeof fn, self: typeof self,
            chain: fn ? await through(fn.constructor) : self ? await through(self.constructor.constructor) : null,
          });
        }
      }
      return Response.json({
        sites: sites.length,
        files: [...files],
        exposed: exposed.filter((entry) => entry.file !== import.meta.url),
        ownExposed: exposed.filter((entry) => entry.file === import.meta.url && entry.chain !== CLEAN),
        hostPaths: stacks.filter((stack) => HOST_PATH.test(stack)),
        stacks: stacks.length,
      });`);
    assert.ok(found.sites >= 10, `only ${found.sites} call sites`);
    assert.ok(found.stacks >= 11, `only ${found.stacks} stacks`);
    // Runtime frames are strict code: V8 gives neither their function nor their receiver.
    assert.deepEqual(found.exposed, []);
    assert.deepEqual(found.ownExposed, []);
    assert.deepEqual(found.hostPaths, []);
    for (const file of found.files) assert.doesNotMatch(file, /\/work\/|node_modules|sandbox\/|\.ts$/, `a frame in ${file}`);
  });

  test("errors from host-backed APIs are the guest's own errors, without host stacks", async () => {
    const found = await report("host-errors", `
      const cases = {
        randomTooBig: () => crypto.getRandomValues(new Uint8Array(65537)),
        randomFloat: () => crypto.getRandomValues(new Float64Array(2)),
        randomArray: () => crypto.getRandomValues([1, 2, 3]),
        digestMd5: () => crypto.subtle.digest("MD5", new Uint8Array(1)),
        digestString: () => crypto.subtle.digest("SHA-256", "abc"),
        digestMissing: () => crypto.subtle.digest("SHA-256"),
        signNoKey: () => crypto.subtle.sign("HMAC", {}, new Uint8Array(1)),
        importEmpty: () => crypto.subtle.importKey("raw", new Uint8Array(0), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
        fetchNothing: () => fetch(),
        fetchBadUrl: () => fetch("http://[::1"),
        fetchDenied: () => fetch("http://127.0.0.1:9/"),
        fetchFile: () => fetch("file:///etc/passwd"),
        fetchBadMethod: () => fetch("http://127.0.0.1:9/", { method: "bad method" }),
        fetchBadHeader: () => fetch("http://127.0.0.1:9/", { headers: { "bad name": "x" } }),
        timerString: () => setTimeout("globalThis.x = 1", 1),
      };
      const out = {};
      for (const [name, fn] of Object.entries(cases)) {
        try {
          await fn();
          out[name] = "resolved";
        } catch (error) {
          out[name] = {
            name: nameOf(error),
            isError: error instanceof Error,
            ownRealm: Object.getPrototypeOf(Object.getPrototypeOf(error)) === Error.prototype || Object.getPrototypeOf(error) === Error.prototype
              || (typeof DOMException === "function" && error instanceof DOMException),
            chain: await through(error.constructor.constructor),
            hostPath: HOST_PATH.test(String(error.stack)) || HOST_PATH.test(String(error.message)),
            denied: String(error.message).startsWith("ERR_FETCH_DENIED"),
          };
        }
      }
      return Response.json(out);`);
    const names = Object.keys(found);
    assert.equal(names.length, 15);
    for (const name of names) {
      const entry = found[name];
      assert.notEqual(entry, "resolved", `${name} resolved`);
      assert.equal(entry.isError, true, `${name}: ${JSON.stringify(entry)}`);
      assert.equal(entry.ownRealm, true, `${name}: ${JSON.stringify(entry)}`);
      assert.equal(entry.chain, CLEAN, `${name}: ${JSON.stringify(entry)}`);
      assert.equal(entry.hostPath, false, `${name}: ${JSON.stringify(entry)}`);
    }
    assert.equal(found.fetchDenied.name, "TypeError");
    assert.equal(found.fetchDenied.denied, true);
    assert.equal(found.fetchFile.denied, true);
    assert.equal(found.randomTooBig.name, "QuotaExceededError");
    assert.equal(found.digestMd5.name, "NotSupportedError");
  });
});

describe("values handed to the host", () => {
  test("Proxies passed to host-backed APIs: traps run only in the guest, and see no host", async () => {
    const found = await report("proxies", `
      const seen = [];
      const spy = (target) => new Proxy(target, {
        get(target, key) { seen.push([typeof process, typeof require, typeof Buffer].join()); const value = Reflect.get(target, key, target); return typeof value === "function" ? value.bind(target) : value; },
        has(target, key) { seen.push([typeof process, typeof require, typeof Buffer].join()); return Reflect.has(target, key); },
        ownKeys(target) { seen.push([typeof process, typeof require, typeof Buffer].join()); return Reflect.ownKeys(target); },
        getOwnPropertyDescriptor(target, key) { seen.push([typeof process, typeof require, typeof Buffer].join()); return Reflect.getOwnPropertyDescriptor(target, key); },
        getPrototypeOf(target) { seen.push([typeof process, typeof require, typeof Buffer].join()); return Reflect.getPrototypeOf(target); },
      });
      const outcomes = {
        digestData: await settle(() => crypto.subtle.digest("SHA-256", spy(new Uint8Array([1, 2, 3])))),
        digestAlgorithm: await settle(() => crypto.subtle.digest(spy({ name: "SHA-256" }), new Uint8Array(1))),
        randomValues: await settle(() => crypto.getRandomValues(spy(new Uint8Array(8)))),
        importKeyAlgorithm: await settle(() => crypto.subtle.importKey("raw", new Uint8Array([1]), spy({ name: "HMAC", hash: "SHA-256" }), false, ["sign"])),
        fetchInput: await settle(() => fetch(spy({}))),
        fetchInit: await settle(() => fetch("http://127.0.0.1:9/", spy({ method: "POST", body: "x" }))),
        fetchHeaders: await settle(() => fetch("http://127.0.0.1:9/", { headers: spy({ a: "b" }) })),
        headers: await settle(() => new Headers(spy({ a: "b" }))),
        responseInit: await settle(() => new Response("x", spy({ status: 201, headers: spy({ a: "b" }) }))),
        log: await settle(() => console.log(spy({ a: 1 }), spy([1, 2]))),
        clone: await settle(() => structuredClone(spy({ a: 1 }))),
        waitUntil: await settle(() => ctx.waitUntil(spy(Promise.resolve(1)))),
      };
      return Response.json({ seen: [...new Set(seen)], traps: seen.length, outcomes });`);
    // Traps ran (the runtime read through them) and every one of them ran in the guest.
    assert.ok(found.traps > 0, "no trap ran");
    assert.deepEqual(found.seen, ["undefined,undefined,undefined"]);
    const { outcomes } = found;
    assert.equal(outcomes.fetchInput.threw, "TypeError");
    assert.match(outcomes.fetchInit.message, /ERR_FETCH_DENIED/);
    assert.match(outcomes.fetchHeaders.message, /ERR_FETCH_DENIED/);
    const kinds = Object.fromEntries(Object.entries(outcomes).map(([key, value]: [string, any]) => [key, value.threw ? `threw ${value.threw}` : value.ok]));
    assert.deepEqual(kinds, {
      digestData: "threw TypeError", // a Proxy is no BufferSource
      digestAlgorithm: "[object ArrayBuffer]",
      randomValues: "threw TypeError",
      importKeyAlgorithm: "[object CryptoKey]",
      fetchInput: "threw TypeError",
      fetchInit: "threw TypeError",
      fetchHeaders: "threw TypeError",
      headers: "[object Headers]",
      responseInit: "[object Response]",
      log: "undefined",
      clone: "[object Object]", // the runtime's structuredClone reads through the traps, in the guest
      waitUntil: "undefined",
    });
    await nodeAlive();
  });

  test("Symbol.toPrimitive and Symbol.species tricks run in the guest only", async () => {
    const found = await report("symbols", `
      const seen = [];
      const look = () => seen.push([typeof process, typeof require, typeof Buffer].join());
      const primitive = (value) => ({ [Symbol.toPrimitive]() { look(); return value; } });
      class EvilArray extends Array { static get [Symbol.species]() { look(); return Array; } }
      class EvilPromise extends Promise { static get [Symbol.species]() { look(); return Promise; } }
      const pairs = EvilArray.from([["x-a", "1"], ["x-b", "2"]]);
      const outcomes = {
        timerDelay: await settle(() => new Promise((resolve) => setTimeout(resolve, primitive(1)))),
        randomLength: await settle(() => crypto.getRandomValues(primitive(8))),
        digestAlgorithm: await settle(() => crypto.subtle.digest(primitive("SHA-256"), new Uint8Array(1))),
        fetchUrl: await settle(() => fetch(primitive("http://127.0.0.1:9/"))),
        headersFromSpecies: await settle(() => new Headers(pairs)),
        fetchSpeciesHeaders: await settle(() => fetch("http://127.0.0.1:9/", { headers: pairs })),
        speciesMap: await settle(() => pairs.map((pair) => pair)),
        waitUntilSpecies: await settle(() => ctx.waitUntil(EvilPromise.resolve(1).then(() => 2))),
        responseStatus: await settle(() => new Response("x", { status: primitive(202) })),
      };
      const body = await new Response(EvilPromise.resolve("through a species promise").then((text) => text)).text().catch((error) => nameOf(error));
      return EvilPromise.resolve(Response.json({ seen: [...new Set(seen)], looks: seen.length, outcomes, body }));`);
    assert.ok(found.looks >= 3, `only ${found.looks} traps ran`);
    assert.deepEqual(found.seen, ["undefined,undefined,undefined"]);
    assert.match(found.outcomes.fetchUrl.message, /ERR_FETCH_DENIED/);
    assert.match(found.outcomes.fetchSpeciesHeaders.message, /ERR_FETCH_DENIED/);
    assert.deepEqual(found.outcomes.headersFromSpecies, { ok: "[object Headers]" });
    await nodeAlive();
  });

  test("values returned by crypto are plain guest-realm buffers; arguments are copied at the call", async () => {
    const found = await report("crypto-values", `
      const hex = (buffer) => Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
      const data = new Uint8Array([1, 2, 3]);
      const pending = crypto.subtle.digest("SHA-256", data);
      data[0] = 9; // after the call: must not change the result
      const digest = await pending;
      const again = await crypto.subtle.digest("SHA-256", new Uint8Array([1, 2, 3]));
      new Uint8Array(again)[0] ^= 0xff; // mutating one result must not touch another
      const keyBytes = new Uint8Array([7, 7, 7]);
      const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
      keyBytes[0] = 0;
      const message = new Uint8Array([4, 5, 6]);
      const signing = crypto.subtle.sign("HMAC", key, message);
      message[0] = 0;
      const signature = await signing;
      const random = new Uint8Array(32);
      const returned = crypto.getRandomValues(random);
      const describe = (buffer) => ({
        arrayBuffer: buffer instanceof ArrayBuffer,
        proto: Object.getPrototypeOf(buffer) === ArrayBuffer.prototype,
        ctor: buffer.constructor === ArrayBuffer,
        tag: Object.prototype.toString.call(buffer),
        shared: typeof SharedArrayBuffer === "function" && buffer instanceof SharedArrayBuffer,
        ownKeys: Reflect.ownKeys(buffer).map(String),
      });
      return Response.json({
        digest: hex(digest),
        digestAfterMutation: hex(await crypto.subtle.digest("SHA-256", new Uint8Array([1, 2, 3]))),
        signature: hex(signature),
        verified: await crypto.subtle.verify("HMAC", key, signature, new Uint8Array([4, 5, 6])),
        digestValue: describe(digest),
        signatureValue: describe(signature),
        distinct: digest !== again,
        chains: [await through(digest.constructor.constructor), await through(signature.constructor.constructor), await through(random.constructor.constructor)],
        random: {
          same: returned === random,
          proto: Object.getPrototypeOf(random) === Uint8Array.prototype,
          bufferProto: Object.getPrototypeOf(random.buffer) === ArrayBuffer.prototype,
          filled: random.some((byte) => byte !== 0),
          length: random.length,
        },
        uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
      });`);
    const expectedDigest = createHash("sha256").update(Buffer.from([1, 2, 3])).digest("hex");
    const expectedSignature = createHmac("sha256", Buffer.from([7, 7, 7])).update(Buffer.from([4, 5, 6])).digest("hex");
    const plain = { arrayBuffer: true, proto: true, ctor: true, tag: "[object ArrayBuffer]", shared: false, ownKeys: [] };
    assert.deepEqual(found, {
      digest: expectedDigest,
      digestAfterMutation: expectedDigest,
      signature: expectedSignature,
      verified: true,
      digestValue: plain,
      signatureValue: plain,
      distinct: true,
      chains: [CLEAN, CLEAN, CLEAN],
      random: { same: true, proto: true, bufferProto: true, filled: true, length: 32 },
      uuid: true,
    });
  });

  test("huge values for host callbacks: a 50 MB log line, a 100 MB digest, a 50 MB fetch body", async () => {
    const { url, answer } = await probe("huge", `
      const hex = (buffer) => Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
      const text = "x".repeat(50 * 1024 * 1024);
      console.log(text);
      const digest = hex(await crypto.subtle.digest("SHA-256", new Uint8Array(100 * 1024 * 1024)));
      const posted = await settle(() => fetch("http://127.0.0.1:9/", { method: "POST", body: text }));
      return Response.json({ digest, posted, runId: ctx.runId });`, { routes: PUBLIC, limits: { cpuMs: 5000, memoryMb: 512, wallMs: 10_000 } });
    assert.equal(outcome(answer), "200", answer.text);
    assert.equal(answer.body.digest, createHash("sha256").update(Buffer.alloc(100 * 1024 * 1024)).digest("hex"));
    assert.match(answer.body.posted.message, /ERR_FETCH_DENIED/);
    // The 50 MB line was cut in the guest before it crossed, not stored whole.
    const tenant = new URL(url).pathname.split("/")[2];
    let run: any;
    run = await eventually("the run to be recorded", async () => {
      const found = await t.api("GET", `/api/tenants/${tenant}/runs/${answer.body.runId}`);
      return found.status === 200 && found.body;
    });
    assert.ok(run, "the run was recorded");
    const lines = run.logs.filter((line: any) => line.level === "log");
    assert.equal(lines.length, 1);
    assert.equal(lines[0].message, "x".repeat(16 * 1024));
    await nodeAlive();
  });

  test("huge values within a small memory limit: a clean memory-limit error, the node alive", async () => {
    const { answer } = await probe("huge-small", `
      const text = "x".repeat(50 * 1024 * 1024);
      console.log(text);
      return Response.json({ digest: await crypto.subtle.digest("SHA-256", new Uint8Array(100 * 1024 * 1024)) });`, { routes: PUBLIC, limits: { cpuMs: 5000, memoryMb: 64, wallMs: 10_000 } });
    assert.equal(outcome(answer), "503 ERR_MEMORY_LIMIT", answer.text);
    await nodeAlive();
  });
});

describe("data the runtime builds for the host, bent by user code", () => {
  test("a fetch whose wire request was subverted (Array.prototype.push replaced) is refused, the node unharmed", async () => {
    const { answer } = await probe("bent-fetch", `
      const push = Array.prototype.push;
      const attempts = {};
      for (const kind of ["sparse", "objects", "crlf"]) {
        Array.prototype.push = function (...items) {
          // The runtime pushes the Accept header last: replace the pairs it built with ours.
          if (items[0] === "accept") {
            Array.prototype.push = push;
            if (kind === "sparse") this.length = 2 ** 32 - 2;
            if (kind === "objects") { this[0] = { name: "x" }; this[1] = [1]; }
            if (kind === "crlf") { this[0] = "x-a"; this[1] = "b\\r\\nhost: elsewhere"; }
            return this.length;
          }
          return push.apply(this, items);
        };
        attempts[kind] = await settle(() => fetch("http://127.0.0.1:9/"));
        Array.prototype.push = push;
      }
      return Response.json(attempts);`);
    assert.equal(outcome(answer), "200", answer.text);
    for (const kind of ["sparse", "objects", "crlf"]) {
      assert.equal(answer.body[kind].threw, "TypeError", `${kind}: ${JSON.stringify(answer.body[kind])}`);
      assert.match(answer.body[kind].message, /request's headers/, kind);
    }
    assert.ok(answer.ms < 3000, `took ${answer.ms} ms`);
    await nodeAlive();
  });

  test("a forged Response (subclass getters, replaced push) is refused with 500 ERR_FUNCTION_THREW", async () => {
    const url = await t.deploy("forged-response", `export default { async fetch(request) {
      const kind = new URL(request.url).pathname;
      class Forged extends Response {
        get status() { return kind === "/status" ? 99 : 200; }
        get statusText() { return kind === "/status-text" ? "OK\\r\\nx-injected: 1" : "OK"; }
      }
      const response = new Forged("body", { headers: { "content-type": "text/plain" } });
      const push = Array.prototype.push;
      if (kind === "/sparse-headers" || kind === "/object-headers" || kind === "/crlf-headers") {
        Array.prototype.push = function (...items) {
          if (items[0] === "content-type") {
            Array.prototype.push = push;
            if (kind === "/sparse-headers") this.length = 2 ** 32 - 2;
            if (kind === "/object-headers") { this[0] = { a: 1 }; this[1] = [1]; }
            if (kind === "/crlf-headers") { this[0] = "x-a"; this[1] = "b\\r\\nset-cookie: pwned=1"; }
            return this.length;
          }
          return push.apply(this, items);
        };
      }
      return response;
    } };`, MANIFEST);
    const fine = await call(url + "/fine");
    assert.equal(outcome(fine), "200");
    assert.equal(fine.text, "body");
    // The sparse array last: its 2^32-2 length can leave the isolate short of memory afterwards.
    for (const path of ["/status", "/status-text", "/object-headers", "/crlf-headers", "/sparse-headers"]) {
      const answer = await call(url + path);
      assert.equal(outcome(answer), "500 ERR_FUNCTION_THREW", `${path}: ${answer.text}`);
      assert.ok(answer.ms < 3000, `${path} took ${answer.ms} ms`);
    }
    await nodeAlive();
  });
});

describe("errors the runtime reports, bent by user code", () => {
  test("a replaced String, a huge sparse array thrown or rejected: 500 ERR_FUNCTION_THREW, promptly", async () => {
    const url = await t.deploy("bent-errors", `export default { async fetch(request) {
      const sparse = [];
      sparse.length = 2 ** 32 - 2;
      switch (new URL(request.url).pathname) {
        case "/throw": throw sparse;
        case "/reject": Promise.reject(sparse); return new Response("unreachable");
        case "/name": { const error = new Error("x"); error.name = sparse; throw error; }
        case "/string": globalThis.String = () => sparse; throw new Error("x");
      }
    } };`, MANIFEST);
    for (const path of ["/throw", "/reject", "/name", "/string"]) {
      const answer = await call(url + path);
      assert.equal(outcome(answer), "500 ERR_FUNCTION_THREW", `${path}: ${answer.text}`);
      assert.ok(answer.ms < 2000, `${path} took ${answer.ms} ms`);
      assert.ok(answer.text.length < 2000, `${path} answered ${answer.text.length} bytes`);
    }
    await nodeAlive();
  });
});

describe("prototype pollution", () => {
  test("pollution of shared builtins stays in the polluting function's isolate", async () => {
    const polluter = await t.deploy("polluter", `export default { async fetch() {
      Object.prototype.polluted = 1;
      Array.prototype.polluted = 2;
      const push = Array.prototype.push;
      Array.prototype.push = function (...items) { globalThis.pushes = (globalThis.pushes || 0) + 1; return push.apply(this, items); };
      JSON.parse = () => ({ hijacked: true });
      Function.prototype.toString = () => "hijacked";
      Promise.prototype.finally = function () { return this; };
      String.prototype.includes = () => true;
      Object.defineProperty(Object.prototype, "toJSON", { configurable: true, writable: true, value: undefined });
      globalThis.leaked = "from the polluter";
      return Response.json({ polluted: ({}).polluted, parse: JSON.parse("1") });
    } };`, MANIFEST);
    const first = await call(polluter);
    assert.equal(outcome(first), "200", first.text);
    assert.deepEqual(first.body, { polluted: 1, parse: { hijacked: true } });
    // The same isolate keeps its pollution: proof that it happened.
    const again = await call(polluter);
    assert.deepEqual(again.body, { polluted: 1, parse: { hijacked: true } });

    const clean = await report("pollution-check", `
      return Response.json({
        polluted: ({}).polluted === undefined && [].polluted === undefined,
        push: Array.prototype.push.name === "push" && Function.prototype.toString.call(Array.prototype.push).includes("[native code]"),
        parse: JSON.parse('{"a":1}').a === 1,
        toString: Function.prototype.toString.call(Object).includes("native code"),
        includes: "abc".includes("z") === false,
        leaked: typeof globalThis.leaked,
        pushes: typeof globalThis.pushes,
      });`);
    assert.deepEqual(clean, { polluted: true, push: true, parse: true, toString: true, includes: true, leaked: "undefined", pushes: "undefined" });

    // The host (this process) is untouched.
    assert.equal(({} as any).polluted, undefined);
    assert.equal(([] as any).polluted, undefined);
    assert.deepEqual(JSON.parse('{"a":1}'), { a: 1 });
    assert.ok(Function.prototype.toString.call(Array.prototype.push).includes("[native code]"));
    assert.equal("abc".includes("z"), false);
    assert.equal((globalThis as any).leaked, undefined);
    await nodeAlive();
  });

  test("a thenable Object.prototype hangs only its own function (504), not the host", async () => {
    const url = await t.deploy("then-poison", `export default { async fetch() {
      Object.prototype.then = function () {};
      return new Response("never delivered");
    } };`, { routes: PUBLIC, limits: { cpuMs: 50, memoryMb: 32, wallMs: 300 } });
    const answer = await call(url);
    assert.equal(outcome(answer), "504 ERR_WALL_TIMEOUT", answer.text);
    assert.equal((Object.prototype as any).then, undefined);
    await nodeAlive();
  });
});

describe("recursion and deep structures", () => {
  test("deep recursion and deeply nested values: clean errors, the node alive", async () => {
    const found = await report("deep", `
      let nested = [];
      for (let i = 0; i < 200000; i++) nested = [nested];
      const loop = { toString() { return String(loop); } };
      return Response.json({
        recursion: attempt(() => { const f = () => f() + 1; return f(); }),
        toStringLoop: attempt(() => String(loop)),
        json: attempt(() => JSON.stringify(nested)),
        log: attempt(() => console.log(nested)),
        clone: attempt(() => structuredClone(nested)),
      });`, { routes: PUBLIC, limits: { ...LIMITS, cpuMs: 10_000, wallMs: 30_000 } }); // heavy by design: room for a loaded machine
    const overflow = { threw: "RangeError", message: "Maximum call stack size exceeded" };
    assert.deepEqual(found.recursion, overflow);
    assert.deepEqual(found.toStringLoop, overflow);
    assert.deepEqual(found.json, overflow);
    assert.deepEqual(found.log, { ok: "undefined" });
    assert.ok(found.clone.ok === "object" || found.clone.threw !== undefined, JSON.stringify(found.clone));
    await nodeAlive();
  });

  test("200000 nested parentheses at deploy: 400 ERR_COMPILE", async () => {
    const tenant = (await t.tenant()).name;
    const code = `export default { fetch() { return ${"(".repeat(200_000)}1${")".repeat(200_000)}; } };`;
    const deployed = await t.api("PUT", `/api/tenants/${tenant}/functions/nested`, { code, manifest: MANIFEST });
    assert.equal(deployed.status, 400);
    assert.equal(deployed.body.error.code, "ERR_COMPILE");
    await nodeAlive();
  });
});

describe("modules", () => {
  for (const [label, code] of [
    ["a static import of node:fs", `import fs from "node:fs"; export default { fetch() { return new Response(String(fs)); } };`],
    ["a re-export of node:child_process", `export * from "node:child_process"; export default { fetch() { return new Response("x"); } };`],
    ["an import of a relative file", `import x from "../../sandbox/host/bindings.ts"; export default { fetch() { return new Response(String(x)); } };`],
  ] as const) {
    test(`${label}: refused at deploy with 400 ERR_COMPILE`, async () => {
      const tenant = (await t.tenant()).name;
      const deployed = await t.api("PUT", `/api/tenants/${tenant}/functions/imports`, { code, manifest: MANIFEST });
      assert.equal(deployed.status, 400);
      assert.equal(deployed.body.error.code, "ERR_COMPILE");
    });
  }

  test("dynamic import(), import.meta and require at run time reach nothing", async () => {
    const found = await report("modules", `
      const tryImport = async (specifier) => {
        try { const namespace = await import(specifier); return { loaded: Object.keys(namespace) }; }
        catch (error) { return { threw: nameOf(error) }; }
      };
      return Response.json({
        fs: await tryImport("node:fs"),
        process: await tryImport("process"),
        file: await tryImport("file:///etc/passwd"),
        data: await tryImport("data:text/javascript,export default globalThis.process"),
        self: await tryImport(import.meta.url),
        meta: Object.getOwnPropertyNames(import.meta),
        metaUrl: String(import.meta.url),
        require: attempt(() => require("fs")),
        moduleObject: typeof module,
      });`);
    for (const key of ["fs", "process", "file", "data", "self"]) {
      assert.equal(found[key].loaded, undefined, `import(${key}) loaded ${JSON.stringify(found[key])}`);
      assert.equal(typeof found[key].threw, "string");
    }
    assert.deepEqual(found.meta, []);
    assert.equal(found.metaUrl, "undefined");
    assert.deepEqual(found.require, { threw: "ReferenceError", message: "require is not defined" });
    assert.equal(found.moduleObject, "undefined");
    await nodeAlive();
  });
});

// The bindings cannot be called from the host through an ivm.Callback, and the guest runtime
// validates its arguments before it calls them; so these call them from a bare isolate, as a
// runtime that forgot a check (or was subverted) would.
describe("host bindings, called directly from an isolate", () => {
  test("errors keep no host stack, results are guest buffers, hostile arguments never reach the host's work", async () => {
    const isolate = new ivm.Isolate({ memoryLimit: 32 });
    const fetched: WireRequest[] = [];
    const completed: DispatchResult<unknown>[] = [];
    const logged: string[] = [];
    const hooks: InvocationHost = {
      log: (_level, message) => void logged.push(message),
      fetch: async (request) => {
        fetched.push(request);
        return { status: 200, statusText: "", headers: [], body: null };
      },
    };
    try {
      const context = await isolate.createContext();
      const work = new HostWork({ host: (run) => (run === "run-1" ? hooks : undefined), complete: (_run, _id, result) => void completed.push(result) });
      const bindings = createBindings({ trace: () => {}, log: (run, level, message, fields) => { if (run === "run-1") hooks.log(level, message, fields); }, call: (run, id, op, arg) => work.start(run, id, op, arg) });
      await context.global.set("host", bindings, { copy: true });
      const found = JSON.parse(await context.eval(`
        const HOST_PATH = /\\/work\\/|node_modules|sandbox\\/host|\\.ts:\\d/;
        const tryIt = (fn) => {
          try { const value = fn(); return { ok: Object.prototype.toString.call(value), guest: value instanceof ArrayBuffer && value.constructor === ArrayBuffer }; }
          catch (error) { return { threw: error.name, guestError: error instanceof Error && error.constructor === globalThis[error.name], hostStack: HOST_PATH.test(String(error.stack)) }; }
        };
        const sparse = [];
        sparse.length = 2 ** 32 - 2;
        const seen = [];
        const trap = new Proxy({}, { get() { seen.push(typeof process); return 1; } });
        host.call("run-1", 1, "fetch", { method: "GET", url: "http://127.0.0.1:9/", headers: sparse, body: null });
        host.call("run-1", 2, "fetch", { method: sparse, url: "http://127.0.0.1:9/", headers: [], body: null });
        host.call("run-1", 3, "fetch", { method: "GET", url: "http://127.0.0.1:9/", headers: ["x-a", "1"], body: null });
        host.call("run-2", 4, "fetch", { method: "GET", url: "http://127.0.0.1:9/", headers: [], body: null });
        host.call(sparse, 5, "sleep", sparse);
        host.log("run-1", "log", sparse);
        host.log("run-1", "nonsense-level", "kept");
        JSON.stringify({
          randomTooBig: tryIt(() => host.randomBytes(1e9)),
          randomSparse: tryIt(() => host.randomBytes(sparse)),
          digestMd5: tryIt(() => host.digest("MD5", new ArrayBuffer(1))),
          digestSparseName: tryIt(() => host.digest(sparse, new ArrayBuffer(1))),
          digestNotBuffer: tryIt(() => host.digest("SHA-256", "text")),
          hmacNotBuffer: tryIt(() => host.hmac("SHA-256", [1, 2], new ArrayBuffer(1))),
          digestProxy: tryIt(() => host.digest("SHA-256", trap)),
          digest: tryIt(() => host.digest("SHA-256", new Uint8Array([1, 2, 3]).buffer)),
          hmac: tryIt(() => host.hmac("SHA-256", new ArrayBuffer(3), new ArrayBuffer(3))),
          random: tryIt(() => host.randomBytes(16)),
          seen,
        });
      `));
      const hostError = (name: string) => ({ threw: name, guestError: true, hostStack: false });
      assert.deepEqual(found, {
        randomTooBig: hostError("RangeError"),
        randomSparse: hostError("RangeError"),
        digestMd5: hostError("TypeError"),
        digestSparseName: hostError("TypeError"),
        digestNotBuffer: hostError("TypeError"),
        hmacNotBuffer: hostError("TypeError"),
        digestProxy: { threw: "TypeError", guestError: true, hostStack: false },
        digest: { ok: "[object ArrayBuffer]", guest: true },
        hmac: { ok: "[object ArrayBuffer]", guest: true },
        random: { ok: "[object ArrayBuffer]", guest: true },
        seen: [],
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Only the well-formed request of the invocation in flight reached the host's fetch.
      assert.deepEqual(fetched, [{ method: "GET", url: "http://127.0.0.1:9/", headers: ["x-a", "1"], body: null }]);
      const failures = completed.filter((result) => !result.ok).map((result) => (result as { error: { message: string } }).error.message);
      // The call of an invocation not in flight ("run-2") starts nothing and is answered never.
      assert.equal(failures.length, 2);
      assert.match(failures[0], /request's headers could not be read/);
      assert.match(failures[1], /malformed request \(method, url\)/);
      assert.deepEqual(logged, ["kept"]);
    } finally {
      isolate.dispose();
    }
  });
});

test("the node is healthy at the end, and the host untouched", async () => {
  await nodeAlive();
  for (const name of FORBIDDEN) assert.equal(Object.hasOwn(Object.prototype, name), false);
  assert.equal(({} as any).polluted, undefined);
});
