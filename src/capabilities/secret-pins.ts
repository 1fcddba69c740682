// Secrets pinned to hosts ("secrets": {"KEY": {"hosts": ["api.openai.com"]}}): the guest's fetch
// may carry the value (in the URL, a header or the body) only to those hosts. Checked on the host
// for every hop, so neither a request nor a redirect can take the key elsewhere.
import type { Manifest } from "../functions/manifest.ts";
import { EgressPolicy, FetchDenied } from "./egress.ts";

export interface SecretPin {
  name: string;
  hosts: EgressPolicy;
}

export function secretPins(manifest: Manifest): SecretPin[] {
  const secrets = manifest.secrets;
  if (!secrets || Array.isArray(secrets)) return [];
  return Object.entries(secrets)
    .filter(([, pin]) => pin.hosts !== undefined)
    .map(([name, pin]) => ({ name, hosts: new EgressPolicy(pin.hosts ?? []) }));
}

/** A check for Fetcher.fetch's checkHop, or undefined when nothing is pinned. */
export function pinCheck(pins: SecretPin[], env: Record<string, string>): ((url: URL, headers: string[], body: ArrayBuffer | null) => void) | undefined {
  const active = pins.filter((pin) => (env[pin.name] ?? "").length > 0);
  if (active.length === 0) return undefined;
  return (url, headers, body) => {
    // Byte-exact search: the request as latin1, each value as its UTF-8 bytes seen as latin1.
    let text: string | undefined;
    for (const pin of active) {
      if (pin.hosts.names(url)) continue;
      const value = Buffer.from(env[pin.name], "utf8").toString("latin1");
      text ??= `${url.href}\n${safeDecode(url.href)}\n${Buffer.from(headers.join("\n"), "utf8").toString("latin1")}\n${body ? Buffer.from(body).toString("latin1") : ""}`;
      if (text.includes(value)) {
        throw new FetchDenied(url.host, `carries secret ${pin.name}, which the manifest pins to other hosts`);
      }
    }
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
