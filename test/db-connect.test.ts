// The Postgres connection's process-level guard (src/db/connect.ts tolerateDriverRejections):
// one listener however many databases an embedder opens, gone once the last is closed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../src/db/connect.ts";
import { scratchDatabase } from "./helpers/postgres.ts";

test("two Postgres databases open in one process add one unhandledRejection listener, removed with the last", async () => {
  const database = await scratchDatabase("connect");
  const baseline = process.listenerCount("unhandledRejection");
  try {
    const first = await connect({ databaseUrl: database.url, dataDir: "/nonexistent" });
    const second = await connect({ databaseUrl: database.url, dataDir: "/nonexistent" });
    assert.equal(process.listenerCount("unhandledRejection"), baseline + 1);
    await first.close();
    await first.close();
    assert.equal(process.listenerCount("unhandledRejection"), baseline + 1, "the second database still needs it");
    await second.close();
    assert.equal(process.listenerCount("unhandledRejection"), baseline);
  } finally {
    await database.drop();
  }
});
