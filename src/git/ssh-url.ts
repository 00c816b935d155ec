/**
 * Parses the SSH repository addresses git accepts: `ssh://[user@]host[:port]/path` (Flux's form)
 * and the scp-like `[user@]host:path`. The result says where to connect, as whom, and which path
 * to hand to git-upload-pack / git-receive-pack on the server. A password in the URL is never
 * used (SSH here authenticates with keys) and never shown.
 */
import { RemoteError } from './errors.js';

export interface SshEndpoint {
  user: string;
  host: string;
  port: number;
  /** The repository path as the server's git commands receive it (absolute, `~user/...`, or relative to the home). */
  path: string;
  /** The address without any password: safe for messages, logs and cache keys. */
  displayUrl: string;
}

/** Flux's and most hosts' SSH user when the URL names none. */
export const DEFAULT_SSH_USER = 'git';
const DEFAULT_SSH_PORT = 22;
/** `[user@]host:path`, where host has no slash and the colon is not followed by `//`. */
const SCP_LIKE = /^(?:([^@/\s]+)@)?(\[[^\]/]+\]|[^:/\s[\]]+):(?!\/\/)(.+)$/;

/** True for `ssh://` URLs and scp-like `user@host:path` addresses. */
export function isSshUrl(url: string): boolean {
  if (/^(?:git\+)?ssh:\/\//i.test(url)) return true;
  return !url.includes('://') && SCP_LIKE.test(url) && !/^[A-Za-z]:[\\/]/.test(url);
}

/** Splits an SSH address into its parts. Throws RemoteError (without any password) when malformed. */
export function parseSshUrl(url: string): SshEndpoint {
  return /^(?:git\+)?ssh:\/\//i.test(url) ? parseSshScheme(url) : parseScpLike(url);
}

function parseSshScheme(url: string): SshEndpoint {
  let parsed: URL;
  try {
    // WHATWG URL parses special schemes only; parse the rest as if it were http.
    parsed = new URL(url.replace(/^(?:git\+)?ssh:/i, 'http:'));
  } catch {
    throw new RemoteError({ url: redactSshUrl(url), detail: 'not a valid ssh:// URL' });
  }
  const user = parsed.username ? decodeURIComponent(parsed.username) : DEFAULT_SSH_USER;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = parsed.port ? Number(parsed.port) : DEFAULT_SSH_PORT;
  let path = decodeURIComponent(parsed.pathname);
  // git: "ssh://host/~user/repo" means "~user/repo" on the server.
  if (path.startsWith('/~')) path = path.slice(1);
  if (!host || path === '/' || path === '') throw new RemoteError({ url: redactSshUrl(url), detail: 'the ssh:// URL names no host or repository path' });
  const hostPart = parsed.hostname + (parsed.port ? `:${parsed.port}` : '');
  const userPart = parsed.username ? `${parsed.username}@` : '';
  return { user, host, port, path, displayUrl: `ssh://${userPart}${hostPart}${parsed.pathname}`.replace(/\/+$/, '') };
}

function parseScpLike(url: string): SshEndpoint {
  const match = SCP_LIKE.exec(url);
  if (!match) throw new RemoteError({ url: redactSshUrl(url), detail: 'not a valid SSH address' });
  const [, user, rawHost, path] = match;
  const host = rawHost.replace(/^\[|\]$/g, '');
  return { user: user ?? DEFAULT_SSH_USER, host, port: DEFAULT_SSH_PORT, path, displayUrl: `${user ? `${user}@` : ''}${rawHost}:${path}` };
}

/** Drops a `:password` from the user part of an ssh:// URL. */
function redactSshUrl(url: string): string {
  return url.replace(/^((?:git\+)?ssh:\/\/[^@/:]*):[^@/]*@/i, '$1@');
}

/** Quotes a path for the remote shell the way git does: in single quotes, `'` as `'\''`. */
export function quoteForShell(path: string): string {
  return `'${path.replace(/'/g, `'\\''`)}'`;
}
