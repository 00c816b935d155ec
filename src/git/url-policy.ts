/**
 * Which repository URLs the engine may contact, checked before any connection and again at
 * connect time. A tenant chooses the URL the operator fetches with the tenant's credentials, so:
 *
 * - always refused: credentials in the URL (they belong in the Secret and would end up in
 *   messages), a query or fragment (git URLs have none; they would let the URL pick the exact
 *   request path), schemes other than https, http and SSH;
 * - by policy: plain http:// (`allowInsecureHttp`), hosts outside an allow list
 *   (`allowedHosts`), and internal addresses (`allowPrivateHosts`): loopback, RFC 1918,
 *   CGNAT, link-local (cloud metadata at 169.254.169.254), IPv6 unique-local and link-local,
 *   multicast and reserved ranges. A host name is resolved and every address it resolves to is
 *   checked inside the connection's own lookup, so the address checked is the address connected
 *   (no DNS rebinding between check and use); the connected socket's address is checked again.
 *
 * The engine's defaults suit the CLI, which runs for the person who typed the URL on their own
 * machine (a repository on localhost or the office network is legitimate there). The operator
 * passes the strict policy from its flags.
 */
import { BlockList, isIP, type LookupFunction, type Socket } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { GitHostNotAllowedError, InvalidRepositoryUrlError } from './errors.js';
import { isSshUrl, parseSshUrl } from './ssh-url.js';

export interface NetworkPolicy {
  /** Allow plain http:// (credentials and content travel unprotected). */
  allowInsecureHttp: boolean;
  /** Allow hosts that are, or resolve to, internal addresses. */
  allowPrivateHosts: boolean;
  /**
   * When set, only these hosts: exact names (case-insensitive) or `*.example.com` for any
   * subdomain of example.com. An empty list allows every host.
   */
  allowedHosts?: readonly string[];
}

/** The CLI's policy, and the engine's default: the user's own machine and network. */
export const LOCAL_NETWORK_POLICY: Readonly<NetworkPolicy> = Object.freeze({ allowInsecureHttp: true, allowPrivateHosts: true });

/** The operator's defaults when no flag widens them. */
export const STRICT_NETWORK_POLICY: Readonly<NetworkPolicy> = Object.freeze({ allowInsecureHttp: false, allowPrivateHosts: false });

/** A checked repository URL: where to connect (host name or IP literal, without brackets). */
export interface CheckedUrl {
  host: string;
  /** The URL without userinfo, query or fragment. */
  displayUrl: string;
}

/**
 * Refuses a URL the policy does not allow. Throws InvalidRepositoryUrlError (credentials, query,
 * fragment, scheme, http://) or GitHostNotAllowedError (allow list, internal IP literal); a host
 * name's addresses are checked at connect time by `createGuardedLookup`.
 */
export function checkRepositoryUrl(url: string, policy: NetworkPolicy): CheckedUrl {
  const checked = isSshUrl(url) ? checkSshUrl(url) : checkHttpUrl(url, policy);
  checkHost(checked, policy);
  return checked;
}

function checkHttpUrl(raw: string, policy: NetworkPolicy): CheckedUrl {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new InvalidRepositoryUrlError({ url: sanitizeUnparsable(raw), reason: 'malformed' });
  }
  const displayUrl = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new InvalidRepositoryUrlError({ url: displayUrl, reason: 'unsupported-scheme' });
  if (parsed.username || parsed.password || /^[a-z]+:\/\/[^/]*@/i.test(raw)) throw new InvalidRepositoryUrlError({ url: displayUrl, reason: 'credentials' });
  // `new URL` drops an empty "?" or "#": look at the raw text too.
  if (parsed.search || raw.includes('?')) throw new InvalidRepositoryUrlError({ url: displayUrl, reason: 'query' });
  if (parsed.hash || raw.includes('#')) throw new InvalidRepositoryUrlError({ url: displayUrl, reason: 'fragment' });
  if (parsed.protocol === 'http:' && !policy.allowInsecureHttp) throw new InvalidRepositoryUrlError({ url: displayUrl, reason: 'insecure-http' });
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), displayUrl };
}

function checkSshUrl(raw: string): CheckedUrl {
  // ssh2 authenticates with keys only: `user:password@` is a credential in the URL.
  const endpoint = parseSshUrl(raw);
  const displayUrl = endpoint.displayUrl;
  if (/^(?:git\+)?ssh:\/\/[^@/]*:[^@/]*@/i.test(raw)) throw new InvalidRepositoryUrlError({ url: displayUrl, reason: 'credentials' });
  if (raw.includes('?')) throw new InvalidRepositoryUrlError({ url: displayUrl.split('?')[0], reason: 'query' });
  if (raw.includes('#')) throw new InvalidRepositoryUrlError({ url: displayUrl.split('#')[0], reason: 'fragment' });
  return { host: endpoint.host, displayUrl };
}

function checkHost(checked: CheckedUrl, policy: NetworkPolicy): void {
  const host = checked.host.toLowerCase().replace(/\.$/, '');
  if (policy.allowedHosts?.length && !policy.allowedHosts.some((entry) => hostMatches(host, entry))) {
    throw new GitHostNotAllowedError({ url: checked.displayUrl, host, reason: 'not-in-allow-list' });
  }
  if (!policy.allowPrivateHosts && isIP(host) && isInternalAddress(host)) {
    throw new GitHostNotAllowedError({ url: checked.displayUrl, host, reason: 'private-address' });
  }
}

/** `entry` is a host name, or `*.domain` for any host below domain (not domain itself). */
function hostMatches(host: string, entry: string): boolean {
  const wanted = entry.trim().toLowerCase().replace(/\.$/, '');
  if (wanted.startsWith('*.')) return host.endsWith(wanted.slice(1)) && host.length > wanted.length - 1;
  return host === wanted;
}

const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

/** True for loopback, private, link-local, multicast and reserved IPv4/IPv6 addresses. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return INTERNAL.check(address, 'ipv4');
  if (family !== 6) return true; // not an address: refuse rather than guess
  // IPv4-mapped and IPv4-compatible/NAT64 forms reach the embedded IPv4 address.
  const embedded = embeddedIpv4(address);
  if (embedded) return INTERNAL.check(embedded, 'ipv4');
  return INTERNAL.check(address, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped (::ffff:0:0/96), -compatible (::/96) or NAT64 (64:ff9b::/96) address. */
function embeddedIpv4(address: string): string | undefined {
  const groups = expandIpv6(address);
  if (!groups) return undefined;
  const prefix = groups.slice(0, 6);
  const zero = (g: number[]) => g.every((x) => x === 0);
  const mapped = zero(prefix.slice(0, 5)) && prefix[5] === 0xffff;
  const nat64 = prefix[0] === 0x64 && prefix[1] === 0xff9b && zero(prefix.slice(2));
  if (!mapped && !nat64 && !zero(prefix)) return undefined;
  return `${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`;
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part included). */
function expandIpv6(address: string): number[] | undefined {
  let text = address.toLowerCase().split('%')[0];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * A `lookup` for net/http/https connections that resolves the host and refuses the connection
 * when any of its addresses is internal (unless the policy allows them). Node connects only to
 * the addresses this returns, so the check holds for the address actually used.
 */
export function createGuardedLookup(policy: NetworkPolicy, displayUrl: string): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      if (!policy.allowPrivateHosts && addresses.some((a) => isInternalAddress(a.address))) {
        return callback(new GitHostNotAllowedError({ url: displayUrl, host: hostname, reason: 'private-address' }) as unknown as NodeJS.ErrnoException, '', 0);
      }
      if (addresses.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/**
 * Second line of defence: once `socket` connects, its peer address must be allowed too (covers
 * IP literals, which skip the lookup). Destroys the socket with GitHostNotAllowedError if not.
 */
export function guardConnectedSocket(socket: Socket, policy: NetworkPolicy, displayUrl: string, host: string): void {
  if (policy.allowPrivateHosts) return;
  const check = () => {
    const address = socket.remoteAddress;
    if (address && isInternalAddress(address)) socket.destroy(new GitHostNotAllowedError({ url: displayUrl, host, reason: 'private-address' }));
  };
  if (socket.connecting) socket.once('connect', check);
  else check();
}

/** A URL's text made safe to show when it cannot even be parsed: no userinfo, query or fragment. */
function sanitizeUnparsable(raw: string): string {
  return raw
    .replace(/\/\/[^/]*@/, '//')
    .split(/[?#]/)[0]
    .slice(0, 200);
}
