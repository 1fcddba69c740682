// Headless Chromium for the console's tests, driven through playwright-core: Debian's `chromium`
// when installed (CI installs it), else the binary @sparticuz/chromium bundles, so `npm test`
// needs nothing beyond `npm install`.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

const SYSTEM_CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** The flags CI runs with: no sandbox (containers), no GPU, nothing fetched in the background. */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function executablePath(): Promise<string> {
  const chosen = process.env.CHROMIUM_PATH ?? SYSTEM_CHROMIUM.find((path) => existsSync(path));
  if (chosen) return chosen;
  const { default: bundled } = await import("@sparticuz/chromium");
  return bundled.executablePath();
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: await executablePath(), args: CHROMIUM_ARGS });
}
