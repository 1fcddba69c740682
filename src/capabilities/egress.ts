// EgressPolicy: which URLs a function's fetch may reach. Denied unless the manifest's
// fetch.allow names the host; private addresses only through the operator's allow list.

/**
 * One manifest rule: "api.openai.com", "*.github.com", "localhost:8080", "https://x.com/api/*",
 * optionally led by the methods it allows: "GET,HEAD https://x.com/files/*".
 */
interface AllowRule {
  methods?: Set<string>;
  scheme?: string;
  host: string;
  wildcard: boolean;
  port?: string;
  pathPrefix?: string;
}

/** The guest sees a TypeError whose message starts with, and whose code is, ERR_FETCH_DENIED. */
export class FetchDenied extends TypeError {
  readonly code = "ERR_FETCH_DENIED";
  constructor(host: string, reason: string) {
    super(`ERR_FETCH_DENIED: ${host}: ${reason}`);
    this.name = "TypeError";
  }
}

function parseRule(text: string): AllowRule {
  const led = /^([A-Z]+(?:,[A-Z]+)*)\s+(.*)$/i.exec(text);
  const rule = led ? led[2] : text;
  const hasScheme = /^https?:\/\//i.test(rule);
  const url = new URL(hasScheme ? rule.replace("://*.", "://wildcard--.") : `http://${rule.replace(/^\*\./, "wildcard--.")}`);
  const wildcard = url.hostname.startsWith("wildcard--.");
  const host = wildcard ? url.hostname.slice("wildcard--.".length) : url.hostname;
  const path = url.pathname.replace(/\*$/, "");
  return {
    methods: led ? new Set(led[1].toUpperCase().split(",")) : undefined,
    scheme: hasScheme ? url.protocol : undefined,
    host,
    wildcard,
    port: rule.match(/:(\d{1,5})(\/|$)/) ? url.port || defaultPort(url.protocol) : undefined,
    pathPrefix: hasScheme && path !== "/" ? path : undefined,
  };
}

function defaultPort(protocol: string): string {
  return protocol === "https:" ? "443" : "80";
}

function matches(rule: AllowRule, url: URL, method?: string): boolean {
  if (method && rule.methods && !rule.methods.has(method)) return false;
  if (rule.scheme && rule.scheme !== url.protocol) return false;
  const host = url.hostname;
  const hostOk = rule.wildcard ? host.endsWith(`.${rule.host}`) : host === rule.host;
  if (!hostOk) return false;
  if (rule.port && rule.port !== (url.port || defaultPort(url.protocol))) return false;
  if (rule.pathPrefix && !url.pathname.startsWith(rule.pathPrefix)) return false;
  return true;
}

/** The operator's ISOBOX_EGRESS_ALLOW_PRIVATE: "host:port" or "host:*" entries. */
export class PrivateAllowList {
  private readonly entries: Set<string>;
  constructor(setting: string) {
    this.entries = new Set(setting.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean));
  }
  allows(host: string, port: string): boolean {
    const name = host.replace(/^\[|\]$/g, "").toLowerCase();
    return this.names(name).some((alias) => this.entries.has(`${alias}:${port}`) || this.entries.has(`${alias}:*`) || this.entries.has(`[${alias}]:${port}`));
  }

  /** The names the operator may have written for a host: localhost is 127.0.0.1 and ::1, and the other way round. */
  private names(name: string): string[] {
    return name === "localhost" || name === "127.0.0.1" || name === "::1" ? ["localhost", "127.0.0.1", "::1"] : [name];
  }
}

/** True when the text is a rule EgressPolicy understands. */
export function isAllowRule(text: string): boolean {
  try {
    parseRule(text);
    return true;
  } catch {
    return false;
  }
}

export class EgressPolicy {
  private readonly rules: AllowRule[];
  constructor(allow: readonly string[]) {
    this.rules = allow.map(parseRule);
  }

  /** True when a rule names the URL (and the method, when given and the rule lists methods). */
  names(url: URL, method?: string): boolean {
    return this.rules.some((rule) => matches(rule, url, method));
  }

  /** Throws FetchDenied unless the URL is http(s) and a manifest rule names it with this method. */
  check(url: URL, method = "GET"): void {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new FetchDenied(url.protocol, "only http and https are allowed");
    }
    if (url.username || url.password) throw new FetchDenied(url.hostname, "credentials in the URL are not allowed");
    if (!this.names(url, method)) {
      const other = this.names(url) ? `: ${method} is not among the methods it allows` : "";
      throw new FetchDenied(url.host, `not in the manifest's fetch.allow${other}`);
    }
  }
}
