// The Postgres server benchmarks run against (DATABASE_URL's, else the local one), and scratch
// databases on it that are dropped afterwards.
import postgres from "postgres";

export const SERVER = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export interface ScratchDatabase {
  url: string;
  /** The server's version, e.g. "15.20". */
  version: string;
  drop(): Promise<void>;
}

/** A fresh database named `name` on SERVER, or undefined when no server answers. */
export async function scratchDatabase(name: string): Promise<ScratchDatabase | undefined> {
  const admin = postgres(withDatabase(SERVER, "postgres"), { max: 1, onnotice: () => {}, connect_timeout: 5 });
  let version: string;
  try {
    version = String((await admin`show server_version`)[0].server_version).split(" ")[0];
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    console.error(`bench: no Postgres database at ${new URL(SERVER).host} (${(error as Error).message})`);
    await admin.end();
    return undefined;
  }
  return {
    url: withDatabase(SERVER, name),
    version,
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`).catch((error) => console.error(`bench: could not drop ${name}: ${error.message}`));
      await admin.end();
    },
  };
}
