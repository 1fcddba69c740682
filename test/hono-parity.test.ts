// A Hono app deployed as a function answers exactly as the same app does in plain Node.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { bundleFunction } from "../src/cli/bundle.ts";
import app from "../examples/hono-app.ts";
import { startBox, type TestBox } from "./helpers/box.ts";

let t: TestBox;
let url: string;
before(async () => {
  t = await startBox();
  const { code } = await bundleFunction("examples/hono-app.ts");
  url = await t.deploy("todos", code);
});
after(async () => { await t.close(); });

const JSON_HEADERS = { "content-type": "application/json" };
const REQUESTS: [string, string, RequestInit?][] = [
  ["root", "/"],
  ["empty list", "/todos"],
  ["create", "/todos", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ title: "first" }) }],
  ["create second", "/todos", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ title: "second" }) }],
  ["invalid body", "/todos", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ title: 3 }) }],
  ["malformed JSON", "/todos", { method: "POST", headers: JSON_HEADERS, body: "{not json" }],
  ["param", "/todos/1"],
  ["unknown id", "/todos/99"],
  ["update", "/todos/2", { method: "PATCH", headers: JSON_HEADERS, body: JSON.stringify({ done: true }) }],
  ["query string", "/todos?done=true"],
  ["query string false", "/todos?done=false&x=%20y"],
  ["unknown route", "/nope/deeper"],
  ["unknown method", "/todos/1", { method: "DELETE" }],
  ["head", "/", { method: "HEAD" }],
];

/** Added by the HTTP server on the wire, or by Isobox to every function response (the console's sandbox policy), not by the app. */
const TRANSPORT_HEADERS = new Set(["date", "connection", "keep-alive", "content-length", "transfer-encoding", "content-security-policy"]);

function appHeaders(headers: Headers): [string, string][] {
  return [...headers].filter(([name]) => !TRANSPORT_HEADERS.has(name));
}

test("routes, params, query strings, JSON bodies and unknown routes match plain Node", async () => {
  for (const [label, path, init] of REQUESTS) {
    const node = await app.request(path, init);
    const guest = await fetch(url + path, init);
    assert.equal(guest.status, node.status, `${label}: status`);
    assert.deepEqual(appHeaders(guest.headers), appHeaders(node.headers), `${label}: headers`);
    assert.equal(await guest.text(), await node.text(), `${label}: body`);
  }
});
