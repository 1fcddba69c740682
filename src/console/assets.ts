// The console's files: its page (index.html) and the scripts and styles it loads, named by their
// content's hash so that browsers may cache them for good. A published package ships them prebuilt
// (dist/console, written by scripts/build.ts); a checkout builds them from src/console/page with
// esbuild once per process. The editor (CodeMirror) is a chunk of its own, loaded by the views
// that edit, so the first view loads only the small runtime.
import { gzipSync } from "node:zlib";
import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Asset {
  body: Uint8Array;
  /** The body gzipped, for browsers that accept it (a third of the bytes). */
  gzip: Uint8Array;
  type: string;
}

export interface ConsoleFiles {
  /** The page every console URL loads. */
  index: string;
  /** By file name, under /console/assets/. */
  assets: Map<string, Asset>;
}

export const ASSET_PATH = "/console/assets/";
/** Replaced in each answer with that answer's CSP nonce (see routes.ts). */
export const NONCE_PLACEHOLDER = "%CSP_NONCE%";

const prebuilt = fileURLToPath(new URL("../../console/", import.meta.url));
const entry = fileURLToPath(new URL("page/main.tsx", import.meta.url));

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

let files: Promise<ConsoleFiles> | undefined;

export function consoleFiles(): Promise<ConsoleFiles> {
  files ??= readPrebuilt().catch(() => buildConsole());
  // A failed build is tried again on the next request rather than remembered.
  files.catch(() => { files = undefined; });
  return files;
}

async function readPrebuilt(): Promise<ConsoleFiles> {
  const index = await readFile(join(prebuilt, "index.html"), "utf8");
  const assets = new Map<string, Asset>();
  for (const name of await readdir(join(prebuilt, "assets"))) {
    assets.set(name, asset(name, await readFile(join(prebuilt, "assets", name))));
  }
  return { index, assets };
}

export async function buildConsole(): Promise<ConsoleFiles> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outdir: "/assets",
    entryNames: "[name]-[hash]",
    chunkNames: "[name]-[hash]",
    jsx: "automatic",
    jsxImportSource: "hono/jsx/dom",
    minify: true,
    legalComments: "none",
    metafile: true,
    logLevel: "silent",
  });
  const assets = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf("/") + 1);
    assets.set(name, asset(name, file.contents));
  }
  const main = Object.entries(result.metafile.outputs).find(([, output]) => output.entryPoint !== undefined)!;
  const script = main[0].slice(main[0].lastIndexOf("/") + 1);
  const style = main[1].cssBundle ? main[1].cssBundle.slice(main[1].cssBundle.lastIndexOf("/") + 1) : undefined;
  return { index: page(script, style), assets };
}

function asset(name: string, body: Uint8Array): Asset {
  return { body, gzip: gzipSync(body, { level: 9 }), type: TYPES[extname(name)] ?? "application/octet-stream" };
}

function page(script: string, style: string | undefined): string {
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>Isobox</title>",
    `<meta name="csp-nonce" content="${NONCE_PLACEHOLDER}">`,
    '<link rel="icon" href="data:,">',
    style ? `<link rel="stylesheet" href="${ASSET_PATH}${style}">` : "",
    `<script type="module" src="${ASSET_PATH}${script}"></script>`,
    "</head>",
    '<body><div id="app"></div></body>',
    "</html>",
  ].filter(Boolean).join("\n");
}

