// Classifies IP addresses for the egress policy: only public unicast addresses are reachable.
// An IPv6 address that carries an IPv4 address is judged by the IPv4 it carries: a translator,
// a tunnel or the host's own dual stack delivers the packet there, so ::ffff:127.0.0.1,
// ::127.0.0.1, 64:ff9b::7f00:1 and 2002:7f00:1:: all reach loopback.
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;
type Cidr = [IPv6, number];

const cidr = (text: string): Cidr => ipaddr.IPv6.parseCIDR(text);

/** Forms whose last 32 bits are the whole destination: nothing of IPv6 is left to judge. */
const CARRIERS: [form: string, net: Cidr][] = [
  ["IPv4-mapped", cidr("::ffff:0:0/96")],
  ["IPv4-translated", cidr("::ffff:0:0:0/96")], // SIIT (RFC 2765)
  ["NAT64", cidr("64:ff9b::/96")], // the well-known prefix: always /96 (RFC 6052)
  ["IPv4-compatible", cidr("::/96")], // deprecated, still routed by some stacks; :: and ::1 are judged first
];
// RFC 8215's local-use prefix may be cut at any RFC 6052 length (/48 to /96), so where the IPv4
// sits depends on the network's own translator: it is never a public destination, refused whole.
const LOCAL_NAT64 = cidr("64:ff9b:1::/48");
const SIX_TO_FOUR = cidr("2002::/16");
const TEREDO = cidr("2001::/32");
const GLOBAL_UNICAST = cidr("2000::/3");

/** Why an address is refused, or undefined when it is a public unicast address. */
export function blockedReason(address: string): string | undefined {
  // Only the strict forms Node's sockets take as literals (any case, leading zeros in groups,
  // dotted tails, zone ids). ipaddr.js alone would also read 010.0.0.1 as 8.0.0.1.
  const family = isIP(address);
  // A zone id (fe80::1%eth0) scopes the address to one interface's link: never a public
  // destination. Refused before parsing, as ipaddr.js reads only some zone ids Node accepts.
  if (family === 6 && address.includes("%")) return `link-scoped address (zone ${address.slice(address.indexOf("%") + 1)})`;
  try {
    if (family === 4) return ipv4Reason(ipaddr.IPv4.parse(address));
    if (family === 6) return ipv6Reason(parseIPv6(address));
  } catch {
    // A literal Node takes and ipaddr.js does not: refused rather than guessed at.
  }
  return "not an IP address";
}

/**
 * ipaddr.js reads ::a.b.c.d as ::ffff:a.b.c.d (same verdict, wrong name in the reason), so a
 * dotted tail is first rewritten in hex by the WHATWG URL parser.
 */
function parseIPv6(address: string): IPv6 {
  const hex = address.includes(".") ? URL.parse(`http://[${address}]/`)?.hostname.slice(1, -1) : undefined;
  return ipaddr.IPv6.parse(hex ?? address);
}

function ipv4Reason(ip: IPv4): string | undefined {
  const range = ip.range();
  return range === "unicast" ? undefined : `${range} address`;
}

function ipv6Reason(ip: IPv6): string | undefined {
  const range = ip.range();
  if (range === "unspecified" || range === "loopback") return `${range} address`;
  const carrier = CARRIERS.find(([, net]) => ip.match(net));
  if (carrier) return carriedReason(carrier[0], ipv4At(ip, 12));
  if (ip.match(LOCAL_NAT64)) return "local-use NAT64 address (64:ff9b:1::/48), translated by a local network's own gateway";
  if (ip.match(TEREDO)) return teredoReason(ip);
  const tunnel = tunnelReason(ip);
  if (tunnel) return tunnel;
  if (range !== "unicast" && range !== "6to4") return `${range} address`;
  if (!ip.match(GLOBAL_UNICAST)) return "address outside the global unicast range 2000::/3";
  return undefined;
}

/** 6to4 (the IPv4 in bits 16–47) and ISATAP (an interface id of …:5efe:a.b.c.d, any prefix). */
function tunnelReason(ip: IPv6): string | undefined {
  if (ip.match(SIX_TO_FOUR)) {
    const reason = carriedReason("6to4", ipv4At(ip, 2));
    if (reason) return reason;
  }
  // The interface id's first group is 0000 or 0200 (the u bit says whether the IPv4 is global);
  // the g bit is masked too, so 0100 and 0300 cannot slip past.
  if ((ip.parts[4] & 0xfcff) === 0 && ip.parts[5] === 0x5efe) return carriedReason("ISATAP", ipv4At(ip, 12));
  return undefined;
}

/**
 * Teredo is refused whatever it carries: it is a UDP tunnel to a host behind a NAT (server IPv4
 * in bits 32–63, client IPv4 inverted in the last 32), which no service a function calls lives
 * on, and the relay that would carry the packet is outside what this check can see. The reason
 * names a carried address that is not public, as that is what such an address aims at.
 */
function teredoReason(ip: IPv6): string {
  const server = ipv4At(ip, 4);
  const client = new ipaddr.IPv4(ip.toByteArray().slice(12).map((byte) => byte ^ 0xff));
  const serverReason = ipv4Reason(server);
  if (serverReason) return `Teredo address whose server ${server} is a ${serverReason}`;
  const clientReason = ipv4Reason(client);
  if (clientReason) return `Teredo address whose client ${client} is a ${clientReason}`;
  return `Teredo address (server ${server}, client ${client}), a tunnel to a host behind a NAT`;
}

/** The refusal of an embedded IPv4, e.g. "loopback address: IPv4-compatible 127.0.0.1". */
function carriedReason(form: string, carried: IPv4): string | undefined {
  const reason = ipv4Reason(carried);
  return reason && `${reason}: ${form} ${carried}`;
}

function ipv4At(ip: IPv6, byteOffset: number): IPv4 {
  return new ipaddr.IPv4(ip.toByteArray().slice(byteOffset, byteOffset + 4));
}
