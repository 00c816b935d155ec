/**
 * A real OpenSSH server for tests: Debian's /usr/sbin/sshd run in the foreground (-D -e) on a
 * free port of 127.0.0.1 with a temporary config: generated host keys, public-key login only for
 * the current user (root in CI: PermitRootLogin prohibit-password) against a temporary
 * authorized_keys, no PAM. Repositories are served by absolute path (git-upload-pack and
 * git-receive-pack run through the user's shell, as on any git host). stop() kills the server
 * and removes its directory.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';
const START_TIMEOUT_MS = 10_000;

export type KeyType = 'ed25519' | 'ecdsa' | 'rsa';

export interface KeyPair {
  /** Private key text (OpenSSH format unless `pem` was asked). */
  privateKey: string;
  /** `<type> <base64> <comment>` as in authorized_keys. */
  publicKey: string;
}

export interface SshServer {
  host: string;
  port: number;
  user: string;
  /** `ssh://user@127.0.0.1:port/<absolute path>` */
  urlFor(absolutePath: string): string;
  /** known_hosts text with the server's host keys (all of them, or only those of `types`). */
  knownHosts(types?: KeyType[]): string;
  stop(): Promise<void>;
}

export interface SshServerOptions {
  /** Public keys allowed to log in (authorized_keys lines). */
  authorizedKeys: string[];
  /** Host key types the server has; default ed25519 and ecdsa. */
  hostKeyTypes?: KeyType[];
}

/** Generates a key pair with ssh-keygen in a temporary directory (removed afterwards). */
export function generateKeyPair(type: KeyType = 'ed25519', options: { passphrase?: string; pem?: boolean } = {}): KeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'ssh-key-'));
  try {
    const file = join(dir, 'key');
    const args = ['-q', '-t', type, '-N', options.passphrase ?? '', '-C', 'gitops-rollback-test', '-f', file];
    if (type === 'rsa') args.push('-b', '2048');
    if (options.pem) args.push('-m', 'PEM');
    execFileSync('ssh-keygen', args, { stdio: 'ignore' });
    return { privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8').trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts sshd on a free loopback port; resolves once it listens. */
export async function startSshServer(options: SshServerOptions): Promise<SshServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sshd-'));
  try {
    const hostKeyTypes = options.hostKeyTypes ?? ['ed25519', 'ecdsa'];
    const hostKeys = new Map<KeyType, string>();
    for (const type of hostKeyTypes) {
      const file = join(dir, `host_${type}_key`);
      execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', '', '-f', file], { stdio: 'ignore' });
      hostKeys.set(type, readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' '));
    }
    writeFileSync(join(dir, 'authorized_keys'), options.authorizedKeys.join('\n') + '\n', { mode: 0o600 });
    ensurePrivilegeSeparationDir();
    const user = userInfo().username;
    let lastError: unknown;
    // A free port can be taken between finding and binding it: try a few.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await findFreePort();
      const config = join(dir, 'sshd_config');
      writeFileSync(config, buildConfig(dir, port, [...hostKeys.keys()], user));
      try {
        const child = await runSshd(config);
        return {
          host: '127.0.0.1',
          port,
          user,
          urlFor: (absolutePath) => `ssh://${user}@127.0.0.1:${port}${absolutePath}`,
          knownHosts: (types) =>
            [...hostKeys]
              .filter(([type]) => !types || types.includes(type))
              .map(([, key]) => `[127.0.0.1]:${port} ${key}`)
              .join('\n') + '\n',
          stop: () => stopSshd(child, dir),
        };
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function buildConfig(dir: string, port: number, hostKeyTypes: KeyType[], user: string): string {
  const lines = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    ...hostKeyTypes.map((type) => `HostKey ${join(dir, `host_${type}_key`)}`),
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `AllowUsers ${user}`,
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PrintMotd no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'LogLevel INFO',
  ];
  // OpenSSH >= 9.8 penalizes sources whose logins fail; the refusal tests would lock out the rest.
  if (supportsOption('PerSourcePenalties no', join(dir, `host_${hostKeyTypes[0]}_key`))) lines.push('PerSourcePenalties no');
  return lines.join('\n') + '\n';
}

/** Whether this sshd knows a config option (`sshd -t` on a config with just that line). */
function supportsOption(line: string, hostKey: string): boolean {
  const probe = `${hostKey}.probe_config`;
  writeFileSync(probe, `HostKey ${hostKey}\n${line}\n`);
  try {
    execFileSync(SSHD, ['-t', '-f', probe], { stdio: 'pipe' });
    return true;
  } catch (err) {
    return !/bad configuration option|unsupported option/i.test(String((err as { stderr?: Buffer }).stderr ?? ''));
  } finally {
    rmSync(probe, { force: true });
  }
}

/** sshd needs its privilege separation directory when started as root. */
function ensurePrivilegeSeparationDir(): void {
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
}

function runSshd(config: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sshd did not start within ${START_TIMEOUT_MS} ms: ${log}`));
    }, START_TIMEOUT_MS);
    child.stderr!.on('data', (chunk: Buffer) => {
      if (log.length < 20_000) log += chunk.toString('utf8');
      if (/Server listening on/.test(log)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with ${code}: ${log}`));
    });
  });
}

async function stopSshd(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
