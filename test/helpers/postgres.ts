// A database of a test's own on the local Postgres, whichever backend the suite runs on: tests of
// several processes sharing one database need a real server (an embedded PGlite has one process).
import { randomBytes } from "node:crypto";
import postgres from "postgres";

export const PG_ADMIN_URL = process.env.ISOBOX_TEST_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function scratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const name = `isobox_${prefix}_${randomBytes(4).toString("hex")}`;
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  return {
    url: Object.assign(new URL(PG_ADMIN_URL), { pathname: `/${name}` }).href,
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
