// The egress policy: the address classifier, manifest rules, and the live path on loopback.
// No connection ever leaves 127.0.0.0/8: blocked names resolve through a lookup the test controls.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { blockedReason } from "../src/capabilities/addresses.ts";
import { EgressPolicy, FetchDenied, PrivateAllowList } from "../src/capabilities/egress.ts";
import type { Lookup } from "../src/capabilities/fetch.ts";
import { json, startBox, type TestBox } from "./helpers/box.ts";
import { eventually } from "./helpers/wait.ts";

describe("address classifier", () => {
  const blocked = ["127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "::", "::1", "fe80::1", "fd00::1", "fc00::7", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1",
    "2002:7f00:1::", "224.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1"];
  for (const address of blocked) {
    test(`${address} is refused`, () => assert.ok(blockedReason(address), address));
  }
  for (const address of ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"]) {
    test(`${address} is public`, () => assert.equal(blockedReason(address), undefined));
  }
});

describe("manifest rules", () => {
  const policy = new EgressPolicy(["api.openai.com", "*.github.com", "localhost:8080", "https://hooks.slack.com/services/*", "GET,HEAD https://files.example.com/public/*"]);
  const allowed = ["https://api.openai.com/v1/chat", "http://api.openai.com/", "https://raw.github.com/x", "http://localhost:8080/a", "https://hooks.slack.com/services/T1/B2"];
  const denied = ["https://evil.com/", "https://api.openai.com.evil.com/", "https://github.com/", "http://localhost:8081/", "https://hooks.slack.com/other",
    "http://hooks.slack.com/services/T1", "file:///etc/passwd", "ftp://api.openai.com/", "https://user:pw@api.openai.com/"];
  for (const url of allowed) test(`allows ${url}`, () => policy.check(new URL(url)));
  for (const url of denied) {
    test(`denies ${url}`, () => assert.throws(() => policy.check(new URL(url)), (e: Error) => e instanceof FetchDenied && e.message.startsWith("ERR_FETCH_DENIED")));
  }
  test("a rule led by methods allows only those", () => {
    policy.check(new URL("https://files.example.com/public/a.txt"), "GET");
    policy.check(new URL("https://files.example.com/public/a.txt"), "HEAD");
    assert.throws(() => policy.check(new URL("https://files.example.com/public/a.txt"), "POST"), /POST is not among the methods it allows/);
    assert.throws(() => policy.check(new URL("https://files.example.com/private/a.txt"), "GET"), FetchDenied);
  });
  test("nothing is allowed without rules", () => assert.throws(() => new EgressPolicy([]).check(new URL("https://example.com/")), FetchDenied));
  test("operator private list names host and port", () => {
    const list = new PrivateAllowList("127.0.0.1:9000, internal.tools:*");
    assert.ok(list.allows("127.0.0.1", "9000"));
    assert.ok(!list.allows("127.0.0.1", "9001"));
    assert.ok(list.allows("internal.tools", "443"));
  });
  test("an operator's 127.0.0.1:P also opens localhost:P and [::1]:P, and the other way round; nothing else", () => {
    const list = new PrivateAllowList("127.0.0.1:9000");
    assert.ok(list.allows("localhost", "9000"));
    assert.ok(list.allows("[::1]", "9000"));
    assert.ok(!list.allows("localhost", "9001"));
    assert.ok(new PrivateAllowList("localhost:9000").allows("127.0.0.1", "9000"));
    assert.ok(!new PrivateAllowList("localhost:9000").allows("127.0.0.2", "9000"));
  });
});

describe("guest fetch on loopback", () => {
  let t: TestBox;
  let stub: Server;
  let other: Server;
  let port: number;
  let otherPort: number;
  const hits: string[] = [];
  const otherHits: string[] = [];
  const otherHeaders: Record<string, string | string[] | undefined>[] = [];
  // Names the test controls: they resolve to blocked addresses or to the loopback stub.
  const lookup: Lookup = (hostname, _options, callback) => {
    const table: Record<string, string> = { "private.test": "10.0.0.1", "metadata.test": "169.254.169.254", "stub.test": "127.0.0.1", "other.test": "127.0.0.1" };
    const address = table[hostname] ?? (hostname === "localhost" ? "127.0.0.1" : hostname);
    callback(null, [{ address, family: address.includes(":") ? 6 : 4 }]);
  };

  before(async () => {
    other = createServer((req, res) => {
      otherHits.push(req.url!);
      otherHeaders.push(req.headers);
      req.resume();
      res.end("other");
    });
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
    otherPort = (other.address() as AddressInfo).port;
    stub = createServer((req, res) => {
      hits.push(req.url!);
      if (req.url === "/redirect") {
        res.writeHead(302, { location: `http://127.0.0.1:${otherPort}/landed` });
        return res.end();
      }
      if (req.url === "/hang") {
        // Answers never; records when the client goes away.
        req.on("close", () => hits.push("/hang closed"));
        return;
      }
      if (req.url === "/redirect-other") {
        res.writeHead(307, { location: `http://other.test:${otherPort}/landed` });
        return res.end();
      }
      res.writeHead(200, { "content-type": "application/json", "x-stub": "yes" });
      res.end(JSON.stringify({ path: req.url, method: req.method, agent: req.headers["user-agent"] ?? null, traceparent: req.headers.traceparent ?? null }));
    });
    await new Promise<void>((r) => stub.listen(0, "127.0.0.1", r));
    port = (stub.address() as AddressInfo).port;
    // The operator opens the stub under one name; every other way to reach it stays closed.
    t = await startBox({ egressAllowPrivate: `stub.test:${port},other.test:${otherPort}`, lookup, maxSubrequests: 3 });
  });
  after(async () => {
    await t.close();
    stub.close();
    other.close();
  });

  const FETCHER = `export default { async fetch(request) {
    const target = new URL(request.url).searchParams.get("url");
    try {
      const response = await fetch(target, { method: "POST", body: "ping" });
      return Response.json({ status: response.status, body: await response.text(), stub: response.headers.get("x-stub") });
    } catch (error) {
      return Response.json({ error: error.name, message: error.message, code: error.code ?? null }, { status: 502 });
    }
  } }`;

  async function call(url: string, allow: string[]): Promise<any> {
    const fn = await t.deploy("fetcher", FETCHER, { routes: { auth: "public" }, fetch: { allow } });
    return json(await fetch(`${fn}?url=${encodeURIComponent(url)}`));
  }

  test("an allowed loopback stub opened by the operator setting works", async () => {
    const result = await call(`http://stub.test:${port}/hello?x=1`, [`stub.test:${port}`]);
    assert.equal(result.status, 200, JSON.stringify(result));
    const seen = JSON.parse(result.body);
    assert.deepEqual({ ...seen, traceparent: undefined }, { path: "/hello?x=1", method: "POST", agent: null, traceparent: undefined });
    assert.match(seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, "the run's trace goes out with the request");
    assert.equal(result.stub, "yes");
  });

  const refusals: [string, string, RegExp][] = [
    ["not in fetch.allow", "http://stub.test:PORT/x", /not in the manifest's fetch\.allow/],
    ["127.0.0.1, allowed by the manifest but not opened by the operator", "http://127.0.0.1:PORT/x", /127\.0\.0\.1 is a loopback address; the node's operator may open it with ISOBOX_EGRESS_ALLOW_PRIVATE=127\.0\.0\.1:\d+$/],
    ["localhost", "http://localhost:PORT/x", /localhost/],
    ["127.1", "http://127.1:PORT/x", /127\.0\.0\.1 is a loopback/],
    ["[::1]", "http://[::1]:PORT/x", /loopback/],
    ["0x7f000001", "http://0x7f000001:PORT/x", /127\.0\.0\.1 is a loopback/],
    ["2130706433", "http://2130706433:PORT/x", /127\.0\.0\.1 is a loopback/],
    ["0177.0.0.1", "http://0177.0.0.1:PORT/x", /127\.0\.0\.1 is a loopback/],
    ["::ffff:127.0.0.1", "http://[::ffff:127.0.0.1]:PORT/x", /loopback/],
    ["0.0.0.0", "http://0.0.0.0:PORT/x", /unspecified/],
    ["a name resolving to 10.0.0.1", "http://private.test:PORT/x", /resolves to 10\.0\.0\.1, a private address; the node's operator may open it with ISOBOX_EGRESS_ALLOW_PRIVATE=private\.test:\d+/],
    ["a name resolving to the metadata address", "http://metadata.test/latest", /169\.254\.169\.254, a linkLocal/],
    ["the metadata address", "http://169.254.169.254/latest", /linkLocal/],
    ["a scheme other than http(s)", "file:///etc/passwd", /only http and https/],
  ];
  for (const [label, template, reason] of refusals) {
    test(`refused, nothing sent: ${label}`, async () => {
      const before = hits.length;
      const url = template.replace("PORT", String(port));
      const host = new URL(url).host || "file:";
      const allow = url.startsWith("file:") || label === "not in fetch.allow" ? [] : [host];
      const result = await call(url, allow);
      assert.equal(result.error, "TypeError", JSON.stringify(result));
      assert.match(result.message, /^ERR_FETCH_DENIED: /);
      assert.equal(result.code, "ERR_FETCH_DENIED");
      assert.match(result.message, reason);
      assert.equal(hits.length, before, "the stub saw nothing");
    });
  }

  test("a redirect from the allowed stub to a port that is not allowed is refused unsent", async () => {
    const result = await call(`http://stub.test:${port}/redirect`, [`stub.test:${port}`]);
    assert.equal(result.error, "TypeError", JSON.stringify(result));
    assert.match(result.message, /^ERR_FETCH_DENIED: 127\.0\.0\.1:\d+: not in the manifest's fetch\.allow/);
    assert.deepEqual(otherHits, []);
  });

  test("a redirect to an allowed but private port the operator did not open is refused unsent", async () => {
    const result = await call(`http://stub.test:${port}/redirect`, [`stub.test:${port}`, `127.0.0.1:${otherPort}`]);
    assert.match(result.message, /^ERR_FETCH_DENIED: .*loopback/);
    assert.deepEqual(otherHits, []);
  });

  const PINNED = `export default { async fetch(request, env) {
    const { url, where, header } = await request.json();
    const init = { method: "POST", headers: {}, body: "nothing" };
    if (where === "header") init.headers[header ?? "x-api-key"] = env.MODEL_KEY;
    if (where === "body") init.body = JSON.stringify({ key: env.MODEL_KEY });
    const target = where === "url" ? url + "?key=" + encodeURIComponent(env.MODEL_KEY) : url;
    try {
      const response = await fetch(target, init);
      return Response.json({ status: response.status, body: await response.text() });
    } catch (error) {
      return Response.json({ error: error.name, code: error.code ?? null, message: error.message });
    }
  } }`;

  describe("a secret pinned to hosts", () => {
    let fn: string;
    const send = async (body: object) => json(await fetch(fn, { method: "POST", body: JSON.stringify(body) }));
    before(async () => {
      const { name } = await t.tenant();
      await t.api("PUT", `/api/tenants/${name}/secrets/MODEL_KEY`, { value: "sk-pinned-7f3a" });
      fn = await t.deploy("pinned", PINNED, {
        routes: { auth: "public" },
        fetch: { allow: [`stub.test:${port}`, `other.test:${otherPort}`] },
        secrets: { MODEL_KEY: { hosts: [`stub.test:${port}`] } },
      }, name);
    });

    test("goes to its host", async () => {
      const result = await send({ url: `http://stub.test:${port}/pinned`, where: "header" });
      assert.equal(result.status, 200, JSON.stringify(result));
    });

    for (const where of ["header", "body", "url"]) {
      test(`cannot leave for another host in the ${where}; nothing is sent`, async () => {
        const before = otherHits.length;
        const result = await send({ url: `http://other.test:${otherPort}/leak`, where });
        assert.equal(result.code, "ERR_FETCH_DENIED", JSON.stringify(result));
        assert.match(result.message, /carries secret MODEL_KEY/);
        assert.equal(otherHits.length, before);
      });
    }

    test("requests without the secret still reach the other allowed host", async () => {
      const result = await send({ url: `http://other.test:${otherPort}/plain`, where: "none" });
      assert.equal(result.status, 200, JSON.stringify(result));
    });

    test("a redirect cannot carry it away: a custom header is refused at the hop, authorization is dropped", async () => {
      const before = otherHits.length;
      const refused = await send({ url: `http://stub.test:${port}/redirect-other`, where: "header" });
      assert.equal(refused.code, "ERR_FETCH_DENIED", JSON.stringify(refused));
      assert.equal(otherHits.length, before);
      const dropped = await send({ url: `http://stub.test:${port}/redirect-other`, where: "header", header: "authorization" });
      assert.equal(dropped.status, 200, JSON.stringify(dropped));
      assert.equal(otherHeaders.at(-1)!.authorization, undefined);
    });
  });

  test("an invocation may make a bounded number of subrequests", async () => {
    const fn = await t.deploy("many", `export default { async fetch() {
      const results = [];
      for (let i = 0; i < 5; i++) {
        try { results.push((await fetch("http://stub.test:${port}/n" + i)).status); }
        catch (error) { results.push(error.code + ": " + error.message); }
      }
      return Response.json(results);
    } }`, { routes: { auth: "public" }, fetch: { allow: [`stub.test:${port}`] } });
    const results = await json(await fetch(fn));
    assert.deepEqual(results.slice(0, 3), [200, 200, 200]);
    assert.match(results[3], /^ERR_FETCH_DENIED: ERR_FETCH_DENIED: .*more than 3 subrequests/);
  });

  test("aborting a fetch in the guest cancels the request on the host", async () => {
    const fn = await t.deploy("aborts", `export default { async fetch() {
      try {
        await fetch("http://stub.test:${port}/hang", { signal: AbortSignal.timeout(200) });
        return new Response("answered?");
      } catch (error) {
        return Response.json({ name: error.name });
      }
    } }`, { routes: { auth: "public" }, fetch: { allow: [`stub.test:${port}`] } });
    assert.deepEqual(await json(await fetch(fn)), { name: "TimeoutError" });
    for (let i = 0; i < 50 && !hits.includes("/hang closed"); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(hits.includes("/hang closed"), "the host closed the request");
  });
});

describe("a failed fetch's stack", () => {
  let t: TestBox;
  before(async () => { t = await startBox(); });
  after(async () => { await t.close(); });

  test("shows the guest line that called fetch, in the author's source", async () => {
    const { name: tenant } = await t.tenant();
    const source = [
      "export default {",
      "  async fetch(): Promise<Response> {",
      "    const answer = await fetch(\"https://not-allowed.example/data\");",
      "    return answer;",
      "  },",
      "};",
      "",
    ].join("\n");
    const deployed = await t.api("PUT", `/api/tenants/${tenant}/functions/caller`, { source, language: "ts", manifest: { routes: { auth: "public" } } });
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
    const response = await fetch(deployed.body.url);
    assert.equal(response.status, 500);
    const { error } = await response.json() as { error: { runId: string; message: string } };
    assert.match(error.message, /ERR_FETCH_DENIED: not-allowed\.example/);
    const run = await eventually("the failed run", async () => {
      const read = await t.api("GET", `/api/tenants/${tenant}/runs/${error.runId}`);
      return read.status === 200 ? read.body : undefined;
    });
    assert.match(run.error.stack, /caller\.ts:3:\d+/, run.error.stack);
  });
});
