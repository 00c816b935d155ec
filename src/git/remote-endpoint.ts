/**
 * What a network operation is given, checked and resolved before anything is sent: the URL
 * against the network policy (./url-policy.ts), the transport that fits it (smart HTTP(S),
 * ./transport.ts, or SSH, ./ssh-transport.ts), credentials turned into an Authorization header
 * (or SSH keys), the secrets to scrub from errors, and the timeouts and limits
 * (./transfer-limits.ts). Like isomorphic-git's GitRemoteManager choosing a remote helper by URL.
 */
import type { SshTransportOptions } from './ssh-transport.js';
import { isSshUrl, parseSshUrl } from './ssh-url.js';
import { resolveTransferLimits, type TransferLimits } from './transfer-limits.js';
import { createHttpTransport, type GitTransport } from './transport.js';
import { checkRepositoryUrl, LOCAL_NETWORK_POLICY, type NetworkPolicy } from './url-policy.js';

export interface Credentials {
  username?: string;
  /** HTTP password or token; for SSH, the passphrase of `identity`. */
  password?: string;
  bearerToken?: string;
  /** SSH private key, PEM or OpenSSH format (Flux Secret key `identity`). */
  identity?: string;
  /** SSH known_hosts lines the server's host key must match (Flux Secret key `known_hosts`). */
  knownHosts?: string;
}

export interface ProgressEvent {
  phase: string;
  loaded: number;
  total?: number;
}

export interface RemoteOptions {
  /**
   * Smart HTTP(S) URL, or an SSH address (`ssh://[user@]host[:port]/path` or `[user@]host:path`,
   * see ./ssh-transport.ts). Credentials, a query or a fragment in it are refused
   * (InvalidRepositoryUrlError), as is whatever `policy` does not allow.
   */
  url: string;
  branch: string;
  credentials?: Credentials;
  /**
   * Inactivity timeout per HTTP request (default 60 s): a request is aborted with
   * GitTimeoutError when no response, or no further body bytes, arrive for this long.
   * Like git's http.lowSpeedTime, a large but progressing download is not cut off.
   */
  timeoutMs?: number;
  /** Which URLs and addresses may be contacted; default LOCAL_NETWORK_POLICY (the CLI's). */
  policy?: NetworkPolicy;
  /** Byte, object and time limits; unset ones take DEFAULT_TRANSFER_LIMITS. */
  limits?: Partial<TransferLimits>;
  onProgress?: (e: ProgressEvent) => void;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

/** A remote with credentials separated from its URL; `url` is safe to show. */
export interface ResolvedRemote {
  url: string;
  /** The URL isomorphic-git is given: `url` for HTTP(S), a placeholder the SSH transport ignores. */
  protocolUrl: string;
  /** Opens the transport for one operation. */
  connect(): GitTransport;
  branch: string;
  headers: Record<string, string>;
  secrets: string[];
  timeoutMs: number;
  limits: TransferLimits;
  onProgress?: (e: ProgressEvent) => void;
}

/**
 * Checks the URL against the policy (credentials in it, a query or fragment are always refused)
 * and turns the credentials into an Authorization header.
 */
export function resolveRemote(opts: RemoteOptions): ResolvedRemote {
  const policy = opts.policy ?? LOCAL_NETWORK_POLICY;
  const { displayUrl } = checkRepositoryUrl(opts.url, policy);
  if (isSshUrl(opts.url)) return resolveSshRemote(opts, policy);
  // No trailing slash, so "<url>/info/refs" stays well-formed.
  const url = displayUrl.replace(/\/+$/, '');
  const credentials = opts.credentials ?? {};
  return {
    url,
    protocolUrl: url,
    connect: () => createHttpTransport({ policy, displayUrl: url }),
    branch: opts.branch,
    headers: authorizationHeaders(credentials),
    secrets: [credentials.password, credentials.bearerToken].filter((s): s is string => !!s),
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    limits: resolveTransferLimits(opts.limits),
    onProgress: opts.onProgress,
  };
}

/**
 * The SSH transport, its module (and ssh2) loaded on the first request: an HTTPS-only run, the
 * CLI's usual one, never pays for loading them.
 */
function lazySshTransport(options: SshTransportOptions): GitTransport {
  let opening: Promise<GitTransport> | undefined;
  let opened: GitTransport | undefined;
  let closed = false;
  const open = () =>
    (opening ??= import('./ssh-transport.js').then(({ openSshTransport }) => {
      opened = openSshTransport(options);
      if (closed) opened.close();
      return opened;
    }));
  return {
    request: async (req) => (await open()).request(req),
    close: () => {
      closed = true;
      opened?.close();
    },
  };
}

/** SSH: keys instead of headers; the identity and its passphrase are the secrets to scrub. */
function resolveSshRemote(opts: RemoteOptions, policy: NetworkPolicy): ResolvedRemote {
  const endpoint = parseSshUrl(opts.url);
  const { identity, knownHosts, password } = opts.credentials ?? {};
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const limits = resolveTransferLimits(opts.limits);
  return {
    url: endpoint.displayUrl,
    protocolUrl: 'https://ssh-transport.invalid/repository',
    connect: () =>
      lazySshTransport({ endpoint, identity, passphrase: password, knownHosts, timeoutMs, policy, maxAdvertisementBytes: limits.maxAdvertisementBytes }),
    branch: opts.branch,
    headers: {},
    secrets: [identity, password].filter((s): s is string => !!s),
    timeoutMs,
    limits,
    onProgress: opts.onProgress,
  };
}

function authorizationHeaders(credentials: Credentials): Record<string, string> {
  if (credentials.bearerToken) return { Authorization: `Bearer ${credentials.bearerToken}` };
  if (credentials.username || credentials.password) {
    // A token alone goes as the password, with a placeholder user (what GitHub/GitLab accept).
    const user = credentials.username || 'x-access-token';
    const basic = Buffer.from(`${user}:${credentials.password ?? ''}`).toString('base64');
    return { Authorization: `Basic ${basic}` };
  }
  return {};
}
