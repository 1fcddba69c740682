// Classifies IP addresses for the egress policy: only public unicast addresses are reachable.
import ipaddr from "ipaddr.js";

/** Why an address is refused, or undefined when it is a public unicast address. */
export function blockedReason(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return "not an IP address";
  // process() turns IPv4-mapped IPv6 (::ffff:127.0.0.1) into the IPv4 address it carries.
  const parsed = ipaddr.process(address);
  const range = parsed.range();
  if (range === "unicast") return undefined;
  if (parsed.kind() === "ipv6") {
    // 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) embed IPv4 addresses: judge the embedded one.
    const bytes = parsed.toByteArray();
    if (range === "rfc6052" || range === "rfc6145") return blockedReason(bytes.slice(12).join("."));
    if (range === "6to4") return blockedReason(bytes.slice(2, 6).join("."));
  }
  return `${range} address`;
}
