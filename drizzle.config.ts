import { defineConfig } from "drizzle-kit";

// The tables are defined unqualified on purpose: they live in Isobox's own schema, whose name is
// a setting (ISOBOX_DB_SCHEMA), reached through each connection's search_path. drizzle-kit still
// writes "public". into foreign keys; src/db/migrations.ts drops it when it runs the files.
export default defineConfig({
  dialect: "postgresql",
  schema: "./schema/tables.ts",
  out: "./schema/migrations",
});
