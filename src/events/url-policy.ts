// Where a webhook may point (SSRF protection): https, or http and loopback/private addresses only when insecure
// targets are allowed; link-local and cloud metadata addresses never. Every address the host resolves to is checked,
// at subscription and again when each delivery connects, so that a name re-pointed later is refused too.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup as lookupAll } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const NEVER = new BlockList();
NEVER.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, cloud metadata (169.254.169.254)
NEVER.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network": 0.0.0.0 reaches the host itself
NEVER.addSubnet('224.0.0.0', 3, 'ipv4'); // multicast and reserved
NEVER.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
NEVER.addSubnet('fe80::', 10, 'ipv6'); // link-local
NEVER.addSubnet('ff00::', 8, 'ipv6'); // multicast
NEVER.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
NEVER.addAddress('::', 'ipv6');

const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ['127.0.0.0', 8],
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10],
] as const)
  INTERNAL.addSubnet(net, prefix, 'ipv4');
INTERNAL.addAddress('::1', 'ipv6');
INTERNAL.addSubnet('fc00::', 7, 'ipv6');

/**
 * Why a webhook may not reach this address, or undefined when it may. An IPv4 address written as IPv6
 * (`::ffff:169.254.169.254`) is checked as the IPv4 address it is: BlockList matches such addresses against the IPv4
 * rules itself.
 */
export function addressRefusal(address: string, allowInsecure: boolean): string | undefined {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if (NEVER.check(address, family)) return `${address} is a link-local, metadata or reserved address`;
  if (!allowInsecure && INTERNAL.check(address, family)) return `${address} is a loopback or private address`;
  return undefined;
}

/** The URL's host as an address or a name: an IPv6 address without the brackets the URL writes it in. */
function hostOf(url: URL): string {
  // An http(s) URL always has a host: the URL parser refuses one without.
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** Why this URL may not be a webhook's, without resolving it, or undefined. A host named is checked as it resolves. */
export function urlRefusal(raw: string, allowInsecure: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'url must be an absolute http(s) URL';
  }
  if (url.protocol !== 'https:' && !(allowInsecure && url.protocol === 'http:'))
    return allowInsecure ? 'url must be http or https' : 'url must be https';
  if (url.username !== '' || url.password !== '') return 'url may not carry a user name or password';
  // A name is no address: BlockList matches none.
  return addressRefusal(hostOf(url), allowInsecure);
}

/** Why a webhook may not reach a host that resolves to these addresses: the reason of the first refused, or undefined. */
export function addressesRefusal(addresses: readonly LookupAddress[], allowInsecure: boolean): string | undefined {
  return addresses.map((a) => addressRefusal(a.address, allowInsecure)).find((r) => r !== undefined);
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for http.request that refuses to connect to any address a webhook may not reach. */
export function guardedLookup(allowInsecure: boolean) {
  return (hostname: string, options: object, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) return callback(error, []);
      const refusal = addressesRefusal(addresses, allowInsecure);
      if (refusal !== undefined) return callback(Object.assign(new Error(refusal), { code: 'EREFUSED' }), []);
      if ((options as { all?: boolean }).all === true) return callback(null, addresses);
      const [first] = addresses;
      if (first === undefined)
        // Stryker disable next-line all: never reached; a lookup of all addresses answers with one at least or with
        // an error of its own (ENOTFOUND), so no test can make this error.
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

/** Resolves the URL's host and checks every address; returns why it is refused, or undefined. */
export async function resolvedUrlRefusal(raw: string, allowInsecure: boolean): Promise<string | undefined> {
  const refusal = urlRefusal(raw, allowInsecure);
  if (refusal !== undefined) return refusal;
  // An address resolves to itself, without asking a DNS server.
  const host = hostOf(new URL(raw));
  const addresses = await lookupAll(host, { all: true }).catch(() => undefined);
  if (addresses === undefined) return `the host ${host} does not resolve`;
  return addressesRefusal(addresses, allowInsecure);
}
