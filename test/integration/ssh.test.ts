/**
 * The SSH transport against a real OpenSSH server (Debian's sshd on loopback, started by the
 * test): the engine fetches, reverts and pushes over ssh:// with a deploy key, deepens shallow
 * history, reports a hook's refusal; wrong keys, unknown and mismatched host keys are refused
 * before anything is pushed. Then the operator (its own process, on the real API server) rolls
 * back an ssh:// repository with a Flux-format Secret. The branch on the server is checked with
 * the git CLI.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { runRollback, type RollbackRequest } from '../../src/git/engine.js';
import {
  AuthFailedError,
  GitHostNotAllowedError,
  GitTimeoutError,
  HostKeyVerificationError,
  PushRejectedError,
  RepositoryNotFoundError,
  TransferLimitExceededError,
} from '../../src/git/errors.js';
import { STRICT_NETWORK_POLICY } from '../../src/git/url-policy.js';
import type { Credentials } from '../../src/git/remote.js';
import { cloneBare, commitFiles, git, initRepo, makeTempDir } from '../helpers/git-cli.js';
import { installRejectingHook, startSilentServer } from '../helpers/git-http-server.js';
import { FLUX_GIT_REPOSITORIES, FLUX_KUSTOMIZATIONS, installOperator, LEADER_ELECTION_ARGS } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { conditionOf as condition, waitForRollback } from '../helpers/rollback-status.js';
import { generateKeyPair, startSshServer, type KeyPair, type SshServer } from '../helpers/ssh-server.js';
import { scaled } from '../helpers/time-budget.js';
import { connectToControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';

const PASSPHRASE = 'deploy-key-Pa55phrase';

/** known_hosts with host names hashed, as `ssh-keygen -H` writes them. */
function hashKnownHosts(text: string): string {
  const dir = makeTempDir('known-hosts-');
  try {
    const file = path.join(dir, 'known_hosts');
    fs.writeFileSync(file, text);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const hashed = fs.readFileSync(file, 'utf8');
    if (!hashed.startsWith('|1|')) throw new Error('ssh-keygen -H did not hash the host names');
    return hashed;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('runRollback over SSH (OpenSSH server)', () => {
  let server: SshServer;
  let root: string;
  let work: string;
  let commits: string[];
  let deployKey: KeyPair;
  let rsaPemKey: KeyPair;
  let encryptedKey: KeyPair;
  let strangerKey: KeyPair;
  let repoCount = 0;

  beforeAll(async () => {
    deployKey = generateKeyPair('ed25519');
    rsaPemKey = generateKeyPair('rsa', { pem: true });
    encryptedKey = generateKeyPair('ed25519', { passphrase: PASSPHRASE });
    strangerKey = generateKeyPair('ed25519');
    server = await startSshServer({ authorizedKeys: [deployKey.publicKey, rsaPemKey.publicKey, encryptedKey.publicKey] });
    root = makeTempDir('ssh-repos-');
    work = initRepo();
    commits = [];
    // Ten notes first (reverting one of them needs history below the shallow depth of 50),
    // then app deployments, each touching its app's file.
    for (let i = 0; i < 70; i++) {
      const files = i < 10 ? { [`docs/note-${i}.md`]: `note ${i}\n` } : { [`apps/app-${i % 5}/deploy.yaml`]: `image: app-${i % 5}:${i}\n` };
      commits.push(commitFiles(work, i < 10 ? `Add note ${i}` : `Deploy app-${i % 5} build ${i}`, files));
    }
  });
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** A fresh server-side copy of the work repository: its ssh:// URL and bare path. */
  function publishRepo(): { url: string; bare: string } {
    const name = `fleet-${++repoCount}.git`;
    const bare = cloneBare(work, path.join(root, name));
    return { url: server.urlFor(bare), bare };
  }

  function credentials(extra: Partial<Credentials> = {}): Credentials {
    return { identity: deployKey.privateKey, knownHosts: server.knownHosts(), ...extra };
  }

  function request(url: string, action: RollbackRequest['action'], creds: Credentials = credentials()): RollbackRequest {
    return { repository: { url, branch: 'main', credentials: creds }, action, author: { name: 'Ops', email: 'ops@example.com' } };
  }

  test('a revert fetched and pushed over ssh:// lands on the server branch', async () => {
    const { url, bare } = publishRepo();
    const result = await runRollback(request(url, { kind: 'revert', commits: [commits[68].slice(0, 8)] }), { cacheDir: makeTempDir() });
    expect(result.result).toBe('reverted');
    expect(git(bare, 'rev-parse', 'main')).toBe(result.head);
    expect(git(bare, 'rev-parse', 'main^')).toBe(commits[69]);
    expect(git(bare, 'show', 'main:apps/app-3/deploy.yaml')).toBe('image: app-3:63');
    expect(git(bare, 'fsck', '--strict')).toBe('');
  });

  test('a commit older than the shallow cache is found by deepening over SSH', async () => {
    const { url, bare } = publishRepo();
    const result = await runRollback(request(url, { kind: 'revert', commits: [commits[3]] }), { cacheDir: makeTempDir() });
    expect(result.result).toBe('reverted');
    expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Add note 3"');
    expect(git(bare, 'ls-tree', '--name-only', 'main', 'docs/')).not.toContain('note-3.md');
  });

  test('a second run with a warm cache fetches incrementally and finds the revert already there', async () => {
    const { url } = publishRepo();
    const cacheDir = makeTempDir();
    await runRollback(request(url, { kind: 'revert', commits: [commits[69]] }), { cacheDir });
    const again = await runRollback(request(url, { kind: 'revert', commits: [commits[69]] }), { cacheDir });
    expect(again.result).toBe('already-reverted');
  });

  test.each([
    ['an RSA key in PEM format', () => credentials({ identity: rsaPemKey.privateKey })],
    ['an encrypted key with its passphrase as password', () => credentials({ identity: encryptedKey.privateKey, password: PASSPHRASE })],
    ['known_hosts listing only the ECDSA host key', () => credentials({ knownHosts: server.knownHosts(['ecdsa']) })],
    ['hashed known_hosts (ssh-keygen -H)', () => credentials({ knownHosts: hashKnownHosts(server.knownHosts()) })],
  ])('authenticates and pushes with %s', async (_name, creds) => {
    const { url, bare } = publishRepo();
    const result = await runRollback(request(url, { kind: 'revert', commits: [commits[67]] }, creds()), { cacheDir: makeTempDir() });
    expect(result.result).toBe('reverted');
    expect(git(bare, 'rev-parse', 'main')).toBe(result.head);
  });

  test('a hook that declines the push makes PushRejectedError with its message, relayed over SSH', async () => {
    const { url, bare } = publishRepo();
    await installRejectingHook(bare, 'protected branch: rollbacks need approval');
    const error = await runRollback(request(url, { kind: 'revert', commits: [commits[66]] }), { cacheDir: makeTempDir() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PushRejectedError);
    expect((error as Error).message).toContain('protected branch: rollbacks need approval');
    expect(git(bare, 'rev-parse', 'main')).toBe(commits[69]);
  });

  test.each([
    [
      'a key the server does not know makes AuthFailedError',
      () => credentials({ identity: strangerKey.privateKey }),
      AuthFailedError,
      /accepted none of the offered keys/,
    ],
    [
      'an encrypted key without its passphrase makes AuthFailedError',
      () => credentials({ identity: encryptedKey.privateKey }),
      AuthFailedError,
      /encrypted and no passphrase/,
    ],
    [
      'a wrong passphrase makes AuthFailedError',
      () => credentials({ identity: encryptedKey.privateKey, password: 'not-it' }),
      AuthFailedError,
      /could not be decrypted/,
    ],
    ['no identity makes AuthFailedError', () => credentials({ identity: undefined }), AuthFailedError, /no SSH private key/],
    [
      'an unknown host makes HostKeyVerificationError',
      () => credentials({ knownHosts: otherHostKnownHosts() }),
      HostKeyVerificationError,
      /known_hosts has no key for 127\.0\.0\.1:\d+/,
    ],
    [
      'a mismatched host key makes HostKeyVerificationError',
      () => credentials({ knownHosts: mismatchedKnownHosts() }),
      HostKeyVerificationError,
      /does not match known_hosts/,
    ],
    [
      'a revoked host key makes HostKeyVerificationError',
      () => credentials({ knownHosts: `@revoked * ${server.knownHosts(['ed25519']).split(' ').slice(1).join(' ')}${server.knownHosts()}` }),
      HostKeyVerificationError,
      /@revoked/,
    ],
    ['no known_hosts makes HostKeyVerificationError', () => credentials({ knownHosts: undefined }), HostKeyVerificationError, /no known_hosts were given/],
  ])('%s, and nothing is pushed', async (_name, creds, errorClass, message) => {
    const { url, bare } = publishRepo();
    const c = creds();
    const error = await runRollback(request(url, { kind: 'revert', commits: [commits[69]] }, c), { cacheDir: makeTempDir() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(errorClass);
    expect((error as Error).message).toMatch(message);
    expect(git(bare, 'rev-parse', 'main')).toBe(commits[69]);
    const shown = JSON.stringify({ message: (error as Error).message, data: (error as { data?: unknown }).data });
    for (const secret of [PASSPHRASE, ...[deployKey, encryptedKey, strangerKey].map((k) => k.privateKey.split('\n')[1])]) {
      expect(shown).not.toContain(secret);
    }
  });

  /** known_hosts naming another host (with this server's key): this server is unknown. */
  function otherHostKnownHosts(): string {
    return server.knownHosts().replace(/\[127\.0\.0\.1\]:\d+/g, 'git.example.com');
  }

  /** known_hosts naming this server with a key it does not have. */
  function mismatchedKnownHosts(): string {
    const other = generateKeyPair('ed25519').publicKey.split(' ').slice(0, 2).join(' ');
    return `[127.0.0.1]:${server.port} ${other}\n`;
  }

  test('a repository path that does not exist makes RepositoryNotFoundError', async () => {
    const error = await runRollback(request(server.urlFor(path.join(root, 'missing.git')), { kind: 'revert', commits: [commits[69]] }), {
      cacheDir: makeTempDir(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RepositoryNotFoundError);
  });

  test('a server that goes silent while answering the push (a slow hook) makes GitTimeoutError, and nothing lands', async () => {
    const { url, bare } = publishRepo();
    // receive-pack sends nothing while the hook runs. The hook
    // holds until the test releases it (at most 2 minutes), so the silence outlasts the timeout
    // however slow the machine, and the timeout can be long enough for the fetch before it.
    const started = path.join(bare, 'hook-started');
    const release = path.join(bare, 'hook-release');
    const finished = path.join(bare, 'hook-finished');
    // No keepalive while the hook runs (git's default sends one every 5 s, which a scaled timeout outlasts).
    git(bare, 'config', 'receive.keepAlive', '0');
    fs.writeFileSync(
      path.join(bare, 'hooks', 'pre-receive'),
      `#!/bin/sh\ntouch '${started}'\ni=0\nwhile [ ! -e '${release}' ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done\ntouch '${finished}'\nexit 1\n`,
      { mode: 0o755 },
    );
    try {
      const error = await runRollback(request(url, { kind: 'revert', commits: [commits[65]] }), {
        cacheDir: makeTempDir(),
        timeoutMs: scaled(5000),
        maxAttempts: 1,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GitTimeoutError);
      expect((error as GitTimeoutError).data.operation).toBe('Push');
      // Given up while the server was still silent, not when it finally answered.
      expect(fs.existsSync(started)).toBe(true);
      expect(fs.existsSync(finished)).toBe(false);
    } finally {
      fs.writeFileSync(release, '');
    }
    expect(git(bare, 'rev-parse', 'main')).toBe(commits[69]);
  });

  test('a server that never answers the handshake makes GitTimeoutError', async () => {
    const silent = await startSilentServer();
    try {
      const port = new URL(silent.baseUrl).port;
      const url = `ssh://git@127.0.0.1:${port}/repo.git`;
      const knownHosts = server.knownHosts().replace(/\[127\.0\.0\.1\]:\d+/g, `[127.0.0.1]:${port}`);
      const started = Date.now();
      const error = await runRollback(request(url, { kind: 'revert', commits: [commits[69]] }, credentials({ knownHosts })), {
        cacheDir: makeTempDir(),
        timeoutMs: 500,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GitTimeoutError);
      expect(Date.now() - started).toBeLessThan(scaled(10_000));
    } finally {
      await silent.stop();
    }
  });

  test.each([
    ['a ref advertisement above maxAdvertisementBytes', { maxAdvertisementBytes: 64 }, 'advertisement'],
    ['an object above maxObjectBytes in the fetched pack', { maxObjectBytes: 16 }, 'object'],
    ['a pack above maxPackBytes', { maxPackBytes: 1024 }, 'pack'],
  ] as const)('%s over SSH makes TransferLimitExceededError', async (_name, limits, what) => {
    const { url } = publishRepo();
    const error = await runRollback(request(url, { kind: 'revert', commits: [commits[69]] }), { cacheDir: makeTempDir(), limits }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransferLimitExceededError);
    expect((error as TransferLimitExceededError).data.what).toBe(what);
  });

  test('the strict network policy refuses an SSH host on loopback before connecting', async () => {
    const { url, bare } = publishRepo();
    const error = await runRollback(request(url, { kind: 'revert', commits: [commits[69]] }), { cacheDir: makeTempDir(), policy: STRICT_NETWORK_POLICY }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GitHostNotAllowedError);
    expect(git(bare, 'rev-parse', 'main')).toBe(commits[69]);
  });
});

describe('the operator rolls back an ssh:// repository (real API server, OpenSSH server)', () => {
  let plane: ControlPlaneClient;
  let server: SshServer;
  let deployKey: KeyPair;
  let operator: OperatorProcess;
  let root: string;
  let work: string;
  let bad: string;
  let namespace: string;
  let repoCount = 0;

  const kubectl = (args: string[], input?: string) => plane.kubectl(args, input === undefined ? undefined : { input });

  beforeAll(async () => {
    plane = connectToControlPlane();
    // A Flux installation has both: after a push the operator looks for the GitRepository's Kustomizations.
    const kubeconfig = await installOperator(plane, { fluxCrds: [FLUX_GIT_REPOSITORIES, FLUX_KUSTOMIZATIONS] });

    deployKey = generateKeyPair('ed25519');
    server = await startSshServer({ authorizedKeys: [deployKey.publicKey] });
    root = makeTempDir('ssh-operator-repos-');
    work = initRepo();
    commitFiles(work, 'Deploy frontend 1.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.0\n' });
    bad = commitFiles(work, 'Deploy frontend 1.1', { 'apps/frontend/deploy.yaml': 'image: frontend:1.1\n' });
    operator = await startOperator({ kubeconfigPath: kubeconfig, args: LEADER_ELECTION_ARGS });
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  beforeEach(async () => {
    namespace = `ssh-${randomBytes(3).toString('hex')}`;
    await kubectl(['create', 'namespace', namespace]);
  });

  function publishRepo(): { url: string; bare: string } {
    const name = `fleet-${++repoCount}.git`;
    const bare = cloneBare(work, path.join(root, name));
    return { url: server.urlFor(bare), bare };
  }

  /** A Secret in Flux's SSH format (as `flux create secret git` writes it). */
  async function createSshSecret(name: string, knownHosts: string): Promise<void> {
    const dir = makeTempDir('ssh-secret-');
    try {
      fs.writeFileSync(path.join(dir, 'identity'), deployKey.privateKey, { mode: 0o600 });
      fs.writeFileSync(path.join(dir, 'identity.pub'), deployKey.publicKey);
      fs.writeFileSync(path.join(dir, 'known_hosts'), knownHosts);
      await kubectl([
        'create',
        'secret',
        'generic',
        name,
        '-n',
        namespace,
        ...['identity', 'identity.pub', 'known_hosts'].map((key) => `--from-file=${key}=${path.join(dir, key)}`),
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  const waitFinished = (name: string): Promise<GitOpsRollback> =>
    waitForRollback(plane, namespace, name, undefined, { timeoutMs: 45_000, diagnostics: () => operator.logs().slice(-3000) });

  test('an inline ssh:// repository with an identity/known_hosts Secret: Ready=True and the revert on the branch', async () => {
    const { url, bare } = publishRepo();
    await createSshSecret('git-ssh', server.knownHosts());
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata: {name: over-ssh, namespace: ${namespace}}
spec:
  repository: {url: '${url}', branch: main, secretRef: {name: git-ssh}}
  revert: {commits: [${bad}]}
  incident: INC-22
`,
    );
    const rollback = await waitFinished('over-ssh');
    expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(rollback.status?.headAfter).toBe(git(bare, 'rev-parse', 'main'));
    expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Deploy frontend 1.1"');
    expect(git(bare, 'show', 'main:apps/frontend/deploy.yaml')).toBe('image: frontend:1.0');
  });

  test('a Flux GitRepository with an ssh:// url and secretRef: Ready=True', async () => {
    const { url, bare } = publishRepo();
    await createSshSecret('flux-system', server.knownHosts());
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: ${namespace}}
spec:
  interval: 1m
  url: '${url}'
  ref: {branch: main}
  secretRef: {name: flux-system}
---
apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata: {name: from-flux, namespace: ${namespace}}
spec:
  sourceRef: {kind: GitRepository, name: flux-system}
  revert: {commits: [${bad}]}
`,
    );
    const rollback = await waitFinished('from-flux');
    expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Deploy frontend 1.1"');
  });

  test('a host missing from known_hosts: Stalled=True HostKeyVerificationFailed, nothing pushed, the key appears nowhere', async () => {
    const { url, bare } = publishRepo();
    await createSshSecret('git-ssh', server.knownHosts().replace(/\[127\.0\.0\.1\]:\d+/g, 'git.example.com'));
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata: {name: unknown-host, namespace: ${namespace}}
spec:
  repository: {url: '${url}', branch: main, secretRef: {name: git-ssh}}
  revert: {commits: [${bad}]}
`,
    );
    const rollback = await waitFinished('unknown-host');
    expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'HostKeyVerificationFailed' });
    expect(condition(rollback, 'Stalled')?.message).toMatch(/known_hosts has no key for 127\.0\.0\.1/);
    expect(git(bare, 'rev-parse', 'main')).toBe(bad);
    const everything = JSON.stringify(rollback) + (await kubectl(['get', 'events', '-n', namespace, '-o', 'json'])) + operator.logs();
    expect(everything).not.toContain(deployKey.privateKey.split('\n')[1]);
  });
});
