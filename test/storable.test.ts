// What Postgres can store (src/db/storable.ts): NUL and lone surrogates, in text and in JSON escapes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isDataError, isStorableText, storableJson, storableJsonText, storableText } from "../src/db/storable.ts";

test("text: NUL and lone surrogates become U+FFFD; pairs and everything else stay", () => {
  assert.equal(storableText("a\0b"), "a\ufffdb");
  assert.equal(storableText("\ud800x"), "\ufffdx");
  assert.equal(storableText("x\udc00"), "x\ufffd");
  assert.equal(storableText("ok \u{1F600} \u0001"), "ok \u{1F600} \u0001");
  assert.equal(isStorableText("\u{1F600}"), true);
  assert.equal(isStorableText("\ud83d"), false);
});

test("JSON: escapes of NUL and lone surrogates become U+FFFD, in keys too; literal backslashes and escaped pairs stay", () => {
  const cases: Array<[string, string]> = [
    [JSON.stringify("a\0b"), '"a\\ufffdb"'],
    [JSON.stringify({ ["k\ud800"]: "\udfff" }), '{"k\\ufffd":"\\ufffd"}'],
    [JSON.stringify("\\u0000 is text"), '"\\\\u0000 is text"'],
    [JSON.stringify("\\\ud800"), '"\\\\\\ufffd"'],
    ['"\\ud83d\\ude00"', '"\\ud83d\\ude00"'],
    ['"\\ud83d"', '"\\ufffd"'],
    ['"\\ude00\\ud83d"', '"\\ufffd\\ufffd"'],
    [JSON.stringify("\u{1F600}\u0001"), JSON.stringify("\u{1F600}\u0001")],
  ];
  for (const [input, expected] of cases) assert.equal(storableJsonText(input), expected, input);
  assert.deepEqual(JSON.parse(storableJson({ a: ["\0", "\ud800"] })), { a: ["\ufffd", "\ufffd"] });
});

test("data errors are told from connection errors", () => {
  assert.equal(isDataError({ code: "22P05" }), true);
  assert.equal(isDataError({ code: "54001" }), true);
  assert.equal(isDataError({ code: "23505" }), true);
  assert.equal(isDataError({ code: "57P01" }), false);
  assert.equal(isDataError({ code: "ECONNREFUSED" }), false);
  assert.equal(isDataError(new Error("x")), false);
});
