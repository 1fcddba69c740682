// Builds the publishable package: JavaScript and .d.ts in dist/ (Node does not strip types
// inside node_modules), the guest runtime bundle, the console's page and assets, and the migrations.
import { execFileSync } from "node:child_process";
import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { buildGuestRuntime } from "../sandbox/host/runtime-bundle.ts";
import { buildConsole } from "../src/console/assets.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = `${root}dist`;

await rm(dist, { recursive: true, force: true });
execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.build.json`], { stdio: "inherit" });
await mkdir(dist, { recursive: true });
await writeFile(`${dist}/guest-runtime.js`, await buildGuestRuntime());
const consolePage = await buildConsole();
await mkdir(`${dist}/console/assets`, { recursive: true });
await writeFile(`${dist}/console/index.html`, consolePage.index);
for (const [name, asset] of consolePage.assets) await writeFile(`${dist}/console/assets/${name}`, asset.body);
await cp(`${root}schema/migrations`, `${dist}/schema/migrations`, { recursive: true });
console.log("isobox: built dist/");
