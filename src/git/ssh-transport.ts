/**
 * Git over SSH, presented as a smart-HTTP transport so the fetch (isomorphic-git) and push
 * (report-status) code runs unchanged. One transport is one SSH connection for one operation:
 *
 * - `GET …/info/refs?service=git-upload-pack|git-receive-pack` runs `<service> '<path>'` on the
 *   server (protocol v0), reads its ref advertisement up to the flush and answers it with the
 *   `# service=` header smart HTTP adds;
 * - the following `POST …/<service>` writes the request body to the same channel and streams
 *   the rest of the command's output back as the response.
 *
 * Because the whole stateless request (wants, shallows, deepen, haves, done) is written at once,
 * the stateful SSH conversation yields exactly the bytes the HTTP POST would.
 *
 * The server's host key must match `knownHosts` (no host is trusted without it); the client
 * authenticates with `identity` (a private key, `passphrase` if encrypted) only. Errors are the
 * typed errors of ./errors.ts and never contain key material.
 *
 * What the server controls is bounded: the connection goes through the network policy's lookup
 * (./url-policy.ts), the advertisement is read up to `maxAdvertisementBytes`, and the channel is
 * paused while more than OUTPUT_BUFFER_LIMIT bytes wait to be read (SSH's window stops the
 * server); the caller counts and limits the response bytes.
 */
import type { GitHttpRequest, GitHttpResponse } from 'isomorphic-git';
import { connect as connectTcp } from 'node:net';
import ssh2, { type Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import {
  AuthFailedError,
  GitRollbackError,
  GitTimeoutError,
  HostKeyVerificationError,
  RemoteError,
  RepositoryNotFoundError,
  TransferLimitExceededError,
} from './errors.js';
import { chooseHostKeyAlgorithms, findHostKeys, verifyHostKey, type HostKeyVerdict } from './known-hosts.js';
import { parsePrivateKey } from './ssh-key.js';
import { quoteForShell, type SshEndpoint } from './ssh-url.js';
import type { GitTransport } from './transport.js';
import { createGuardedLookup, guardConnectedSocket, type NetworkPolicy } from './url-policy.js';
import { collectBody } from './wire/collect-body.js';
import { FLUSH_PKT, scanToFlush } from './wire/pkt-line.js';
import { encodeServiceAnnouncement, type GitService } from './wire/ref-advertisement.js';

// ssh2 is CommonJS whose named exports Node cannot detect: take them from the default export.
const { Client: SshClient } = ssh2;

export interface SshTransportOptions {
  endpoint: SshEndpoint;
  /** Private key, PEM or OpenSSH format (Flux Secret key `identity`). */
  identity?: string;
  /** Passphrase of an encrypted identity (Flux Secret key `password`). */
  passphrase?: string;
  /** OpenSSH known_hosts text (Flux Secret key `known_hosts`). */
  knownHosts?: string;
  /** Handshake timeout; the caller also bounds each request by inactivity. */
  timeoutMs: number;
  /** Where the connection may go (internal addresses, allow list). */
  policy: NetworkPolicy;
  /** Bytes of the ref advertisement read before giving up. */
  maxAdvertisementBytes: number;
}

/** Bytes of the server's stderr kept for error messages. */
const STDERR_LIMIT = 4096;
/** Stdout bytes waiting to be read above which the channel is paused. */
const OUTPUT_BUFFER_LIMIT = 1024 * 1024;

/** Opens nothing yet: the connection is made by the first request. */
export function openSshTransport(options: SshTransportOptions): GitTransport {
  const session = new SshSession(options);
  return { request: (req) => session.request(req), close: () => session.close() };
}

/** Output of a remote command: stdout chunks as they arrive, its stderr and exit code. */
class CommandOutput {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private paused = false;
  stderr = '';
  exitCode: number | undefined;

  /** `pause`/`resume` stop and restart the channel's flow while too much waits to be read. */
  constructor(private readonly flow: { pause(): void; resume(): void } = { pause: () => {}, resume: () => {} }) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > OUTPUT_BUFFER_LIMIT && !this.paused) {
      this.paused = true;
      this.flow.pause();
    }
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.notify();
  }

  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.unshift(chunk);
    this.buffered += chunk.length;
  }

  addStderr(chunk: Buffer): void {
    if (this.stderr.length < STDERR_LIMIT) this.stderr += chunk.toString('utf8').slice(0, STDERR_LIMIT - this.stderr.length);
  }

  /** The next chunk of stdout; null once the command's output ended. */
  async next(): Promise<Buffer | null> {
    for (;;) {
      if (this.failure) throw this.failure;
      const chunk = this.chunks.shift();
      if (chunk) {
        this.buffered -= chunk.length;
        if (this.paused && this.buffered <= OUTPUT_BUFFER_LIMIT / 2) {
          this.paused = false;
          this.flow.resume();
        }
        return chunk;
      }
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

interface OpenCommand {
  service: GitService;
  channel: ClientChannel;
  output: CommandOutput;
  posted: boolean;
}

class SshSession {
  private client: Client | undefined;
  private ready: Promise<Client> | undefined;
  private command: OpenCommand | undefined;
  private hostKeyVerdict: HostKeyVerdict | undefined;
  private closed = false;

  constructor(private readonly options: SshTransportOptions) {}

  private get url(): string {
    return this.options.endpoint.displayUrl;
  }

  async request(req: GitHttpRequest): Promise<GitHttpResponse> {
    // The caller aborts on inactivity: tear the connection down, which also ends a response
    // body still streaming after this method returned (so the listener stays until then).
    const signal = req.signal as AbortSignal | undefined;
    const onAbort = () => this.abort(signal?.reason);
    const release = () => signal?.removeEventListener('abort', onAbort);
    signal?.addEventListener('abort', onAbort, { once: true });
    let streaming = false;
    try {
      if (req.method === 'GET') {
        const service = /[?&]service=(git-upload-pack|git-receive-pack)\b/.exec(req.url)?.[1] as GitService | undefined;
        if (!service) throw new RemoteError({ url: this.url, detail: 'SSH supports only smart-protocol requests' });
        const advertisement = await this.startCommand(service);
        const announcement = encodeServiceAnnouncement(service);
        return respond(req, `application/x-${service}-advertisement`, singleChunk(Buffer.concat([announcement, advertisement])));
      }
      const service = /\/(git-upload-pack|git-receive-pack)$/.exec(req.url)?.[1] as GitService | undefined;
      const command = this.command;
      if (!service || !command || command.service !== service || command.posted) {
        throw new RemoteError({ url: this.url, detail: `SSH request ${req.method} ${service ?? '?'} without a matching ref advertisement` });
      }
      command.posted = true;
      command.channel.end(await collectBody(req.body));
      streaming = true;
      return respond(req, `application/x-${service}-result`, this.streamOutput(command, release));
    } finally {
      if (!streaming) release();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const command = this.command;
    // A flush tells a command still waiting for our request that there is none.
    if (command && !command.posted) command.channel.end(FLUSH_PKT);
    this.client?.end();
  }

  private abort(reason: unknown): void {
    const error = reason instanceof Error ? reason : new GitTimeoutError({ operation: 'SSH', url: this.url, timeoutMs: this.options.timeoutMs });
    this.command?.output.fail(error);
    this.closed = true;
    this.client?.destroy();
  }

  /** Runs `<service> '<path>'` on the server and returns its ref advertisement (up to the flush). */
  private async startCommand(service: GitService): Promise<Buffer> {
    const client = await this.connect();
    if (this.command) this.command.channel.close();
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      client.exec(`${service} ${quoteForShell(this.options.endpoint.path)}`, (err, ch) => (err ? reject(this.toChannelError(err)) : resolve(ch)));
    });
    const output = new CommandOutput({ pause: () => channel.pause(), resume: () => channel.resume() });
    channel.on('data', (chunk: Buffer) => output.push(chunk));
    channel.stderr.on('data', (chunk: Buffer) => output.addStderr(chunk));
    channel.on('exit', (code: number | null) => (output.exitCode = code ?? undefined));
    channel.on('close', () => output.end());
    channel.on('error', (err: Error) => output.fail(this.toChannelError(err)));
    this.command = { service, channel, output, posted: false };
    return this.readAdvertisement(output);
  }

  /** Reads pkt-lines up to and including the first flush; gives back any bytes after it. */
  private async readAdvertisement(output: CommandOutput): Promise<Buffer> {
    let buffered = Buffer.alloc(0);
    let offset = 0;
    for (;;) {
      const scan = scanToFlush(buffered, offset);
      if (scan.kind === 'not-pkt-line') throw new RemoteError({ url: this.url, detail: 'the server did not answer with the git protocol' });
      if (scan.kind === 'flush') {
        output.unshift(buffered.subarray(scan.end));
        return buffered.subarray(0, scan.end);
      }
      offset = scan.offset;
      const chunk = await output.next();
      if (!chunk) throw this.commandFailure(output);
      if (buffered.length + chunk.length > this.options.maxAdvertisementBytes) {
        throw new TransferLimitExceededError({ url: this.url, what: 'advertisement', limit: this.options.maxAdvertisementBytes });
      }
      buffered = Buffer.concat([buffered, chunk]);
    }
  }

  private async *streamOutput(command: OpenCommand, release: () => void): AsyncIterableIterator<Uint8Array> {
    try {
      let received = 0;
      for (;;) {
        const chunk = await command.output.next();
        if (!chunk) break;
        received += chunk.length;
        yield chunk;
      }
      if (received === 0 && command.output.exitCode !== 0) throw this.commandFailure(command.output);
    } finally {
      release();
    }
  }

  /** The command ended without a usable answer: say why, from its stderr. */
  private commandFailure(output: CommandOutput): GitRollbackError {
    const message = output.stderr
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .slice(0, 3)
      .join('; ')
      .slice(0, 300);
    if (/does not appear to be a git repository|not a git repository|repository not found|no such file/i.test(message)) {
      return new RepositoryNotFoundError({ url: this.url, detail: message });
    }
    const exit = output.exitCode !== undefined ? `exit code ${output.exitCode}` : 'no exit code';
    return new RemoteError({ url: this.url, detail: `the server's git command ended without an answer (${exit})${message ? `: ${message}` : ''}` });
  }

  private connect(): Promise<Client> {
    this.ready ??= this.openConnection();
    return this.ready;
  }

  private openConnection(): Promise<Client> {
    const { endpoint, knownHosts, identity, passphrase, timeoutMs } = this.options;
    if (this.closed) return Promise.reject(new RemoteError({ url: this.url, detail: 'the SSH transport is closed' }));
    if (!knownHosts?.trim()) return Promise.reject(this.hostKeyError('no-known-hosts'));
    const hostKeys = findHostKeys(knownHosts, endpoint.host, endpoint.port);
    if (!hostKeys.some((k) => !k.revoked)) return Promise.reject(this.hostKeyError('unknown-host'));
    const serverHostKey = chooseHostKeyAlgorithms(hostKeys);
    if (serverHostKey.length === 0) return Promise.reject(this.hostKeyError('unsupported-key-type'));
    if (!identity?.trim()) return Promise.reject(new AuthFailedError({ url: this.url, detail: 'no SSH private key (identity) was given' }));
    const key = parsePrivateKey(identity, passphrase);
    if (typeof key === 'string') return Promise.reject(new AuthFailedError({ url: this.url, detail: key }));

    const client = new SshClient();
    this.client = client;
    // Our own socket, so the network policy sees (and can refuse) the address connected.
    const socket = connectTcp({ host: endpoint.host, port: endpoint.port, lookup: createGuardedLookup(this.options.policy, this.url) });
    guardConnectedSocket(socket, this.options.policy, this.url, endpoint.host);
    const config: ConnectConfig = {
      sock: socket,
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      // Public key only, with the key parsed (and decrypted) once.
      authHandler: [{ type: 'publickey', username: endpoint.user, key }] as unknown as ConnectConfig['authHandler'],
      hostVerifier: (key: Buffer) => {
        this.hostKeyVerdict = verifyHostKey(hostKeys, key);
        return this.hostKeyVerdict === 'trusted';
      },
      algorithms: { serverHostKey: serverHostKey as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      readyTimeout: timeoutMs,
      tryKeyboard: false,
      agent: undefined,
    };
    return new Promise<Client>((resolve, reject) => {
      let settled = false;
      // Stays attached for the connection's life: ssh2 emits 'error' on any later failure too.
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        const error = this.toConnectionError(err);
        if (!settled) {
          settled = true;
          reject(error);
        }
        this.command?.output.fail(error);
      });
      client.on('close', () => {
        if (!settled) {
          settled = true;
          reject(new RemoteError({ url: this.url, detail: 'the SSH connection closed during the handshake' }));
        }
        this.command?.output.end();
      });
      client.once('ready', () => {
        settled = true;
        resolve(client);
      });
      client.connect(config);
    });
  }

  private hostKeyError(reason: HostKeyVerificationError['data']['reason']): HostKeyVerificationError {
    const { host, port } = this.options.endpoint;
    return new HostKeyVerificationError({ url: this.url, host: port === 22 ? host : `${host}:${port}`, reason });
  }

  private toConnectionError(err: Error & { level?: string; code?: string }): GitRollbackError {
    if (this.hostKeyVerdict && this.hostKeyVerdict !== 'trusted') return this.hostKeyError(this.hostKeyVerdict);
    if (err instanceof GitRollbackError) return err;
    if (err.level === 'client-authentication') return new AuthFailedError({ url: this.url, detail: 'the server accepted none of the offered keys' });
    if (err.level === 'client-timeout' || /timed out/i.test(err.message)) {
      return new GitTimeoutError({ operation: 'SSH handshake', url: this.url, timeoutMs: this.options.timeoutMs });
    }
    if (err.code && /^E[A-Z]+$/.test(err.code)) {
      const { host, port } = this.options.endpoint;
      return new RemoteError({ url: this.url, detail: `cannot reach ${host}:${port} (${err.code})` });
    }
    return new RemoteError({ url: this.url, detail: `SSH: ${err.message.slice(0, 200)}` });
  }

  private toChannelError(err: Error): GitRollbackError {
    return err instanceof GitRollbackError ? err : new RemoteError({ url: this.url, detail: `SSH channel: ${err.message.slice(0, 200)}` });
  }
}

function respond(req: GitHttpRequest, contentType: string, body: AsyncIterableIterator<Uint8Array>): GitHttpResponse {
  return { url: req.url, method: req.method, statusCode: 200, statusMessage: 'OK', headers: { 'content-type': contentType }, body };
}

async function* singleChunk(chunk: Uint8Array): AsyncIterableIterator<Uint8Array> {
  yield chunk;
}
