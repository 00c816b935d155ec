/**
 * Signed reverts from the built CLI (--signing-key), checked by the tools that Flux's users and
 * git hosts trust, not by our code: `git verify-commit` with gpg's keyring for OpenPGP keys, and
 * with `gpg.format=ssh` and an allowed-signers file (ssh-keygen -Y verify) for SSH keys.
 * Keys are made by gpg and ssh-keygen. Needs `npm run build` first (npm test does it).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JsonReport } from '../../src/cli/report.js';
import { cloneBare, commitFiles, git, gitEnv, initRepo, makeTempDir } from '../helpers/git-cli.js';

const CLI = path.resolve('dist/cli/gitops-rollback.js');

function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; json: () => JsonReport }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: makeTempDir(), ...env } }, (error, stdout, stderr) => {
      const code = error ? Number((error as { code?: number }).code ?? -1) : 0;
      resolve({ code, stdout, stderr, json: () => JSON.parse(stdout.trim().split('\n').at(-1) ?? '') });
    });
  });
}

/** `git verify-commit` in `bare` with extra config and environment: its exit status and what it printed. */
function verifyCommit(bare: string, rev: string, config: string[], env: Record<string, string> = {}): { status: number | null; output: string } {
  const run = spawnSync('git', [...config.flatMap((c) => ['-c', c]), 'verify-commit', '--raw', rev], { cwd: bare, env: gitEnv(env), encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A new SSH key pair made by ssh-keygen; `passphrase` encrypts it (bcrypt, 16 rounds). */
function sshKey(type: string, passphrase = ''): { file: string; publicKey: string } {
  const file = path.join(makeTempDir('ssh-key-'), 'id');
  const [kind, bits] = type.split('-');
  execFileSync('ssh-keygen', ['-q', '-t', kind!, ...(bits ? ['-b', bits] : []), '-a', '16', '-N', passphrase, '-C', 'rollback-bot', '-f', file]);
  return { file, publicKey: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
}

describe('gitops-rollback --signing-key', () => {
  let keys: string;
  let gnupgHome: string;
  let work: string;
  let bare: string;
  let bad: string;

  /** gpg with this test's own keyring. */
  const gpg = (...args: string[]): string =>
    execFileSync('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', ...args], { env: { ...process.env, GNUPGHOME: gnupgHome }, encoding: 'utf8' });

  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    keys = makeTempDir('signing-keys-');
    gnupgHome = makeTempDir('gnupg-');
    fs.chmodSync(gnupgHome, 0o700);
    gpg('--passphrase', '', '--quick-gen-key', 'Rollback Bot <bot@example.com>', 'ed25519', 'sign', 'never');
    gpg('--passphrase', 'pgp secret', '--quick-gen-key', 'Rollback Bot RSA <bot-rsa@example.com>', 'rsa2048', 'sign', 'never');
    fs.writeFileSync(path.join(keys, 'bot.asc'), gpg('--armor', '--export-secret-keys', 'bot@example.com'));
    fs.writeFileSync(path.join(keys, 'bot-rsa.asc'), gpg('--passphrase', 'pgp secret', '--armor', '--export-secret-keys', 'bot-rsa@example.com'));
  });

  afterAll(() => {
    // gpg started an agent for this keyring; it must not outlive the test.
    spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: gnupgHome } });
  });

  beforeEach(() => {
    work = initRepo();
    commitFiles(work, 'Deploy frontend 1.4.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.4.0\n' });
    bad = commitFiles(work, 'Deploy frontend 1.5.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.5.0\n' });
    bare = cloneBare(work);
  });

  const revert = (keyFile: string | undefined, env: Record<string, string> = {}) =>
    runCli(['revert', '--repo', bare, '--commit', bad, '--output', 'json', '--cache-dir', makeTempDir(), ...(keyFile ? ['--signing-key', keyFile] : [])], env);

  test.each([
    ['an unencrypted ed25519 key', 'bot.asc', {}, 'Rollback Bot <bot@example.com>'],
    ['a passphrase-protected RSA key', 'bot-rsa.asc', { GIT_SIGNING_KEY_PASSPHRASE: 'pgp secret' }, 'Rollback Bot RSA <bot-rsa@example.com>'],
  ])('OpenPGP, %s: git verify-commit accepts the revert with gpg', async (_what, file, env, uid) => {
    const run = await revert(path.join(keys, file), env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ result: 'reverted', signed: true });
    const verified = verifyCommit(bare, 'main', [], { GNUPGHOME: gnupgHome });
    expect(verified.output).toContain('GOODSIG');
    expect(verified.output).toContain(uid);
    expect(verified.status).toBe(0);
    expect(git(bare, 'show', 'main:apps/frontend/deploy.yaml')).toBe('image: frontend:1.4.0');
    git(bare, 'fsck', '--strict');
  });

  test.each([
    ['ed25519', ''],
    ['rsa-3072', ''],
    ['ecdsa-256', ''],
    ['ecdsa-384', ''],
    ['ed25519', 'ssh secret'],
  ])('SSH, %s key (passphrase "%s"): git verify-commit accepts the revert with gpg.format=ssh', async (type, passphrase) => {
    const key = sshKey(type, passphrase);
    const allowedSigners = path.join(makeTempDir(), 'allowed_signers');
    fs.writeFileSync(allowedSigners, `bot@example.com namespaces="git" ${key.publicKey}\n`);
    const run = await revert(key.file, passphrase ? { GIT_SIGNING_KEY_PASSPHRASE: passphrase } : {});
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ result: 'reverted', signed: true });
    const verified = verifyCommit(bare, 'main', ['gpg.format=ssh', `gpg.ssh.allowedSignersFile=${allowedSigners}`]);
    expect(verified.output).toContain('Good "git" signature for bot@example.com');
    expect(verified.status).toBe(0);
    git(bare, 'fsck', '--strict');
  });

  test('without --signing-key the revert is unsigned and verify-commit refuses it (the check can fail)', async () => {
    const run = await revert(undefined);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ result: 'reverted', signed: false });
    expect(verifyCommit(bare, 'main', [], { GNUPGHOME: gnupgHome }).status).not.toBe(0);
  });

  test('an SSH signature by a key not in allowed_signers is refused by git', async () => {
    const signer = sshKey('ed25519');
    const other = sshKey('ed25519');
    const allowedSigners = path.join(makeTempDir(), 'allowed_signers');
    fs.writeFileSync(allowedSigners, `bot@example.com namespaces="git" ${other.publicKey}\n`);
    expect((await revert(signer.file)).code).toBe(0);
    expect(verifyCommit(bare, 'main', ['gpg.format=ssh', `gpg.ssh.allowedSignersFile=${allowedSigners}`]).status).not.toBe(0);
  });

  test.each([
    ['an OpenPGP key with the wrong passphrase', 'bot-rsa.asc', { GIT_SIGNING_KEY_PASSPHRASE: 'wrong' }, 'could not be decrypted with the given passphrase'],
    ['an encrypted OpenPGP key without a passphrase', 'bot-rsa.asc', {}, 'encrypted and no passphrase'],
    ['a file that is no key', 'not-a-key.txt', {}, 'neither an OpenPGP nor an SSH private key'],
  ])('%s: exit 2, a clear error, the branch unchanged and no key material printed', async (_what, file, env, message) => {
    fs.writeFileSync(path.join(keys, 'not-a-key.txt'), 'hello\n');
    const run = await revert(path.join(keys, file), env);
    expect(run.code).toBe(2);
    expect(run.json()).toMatchObject({ result: 'error', signed: false, error: { code: 'SigningKeyError', message: expect.stringContaining(message) } });
    expect(run.stderr + run.stdout).not.toMatch(/PRIVATE KEY|wrong/);
    expect(git(bare, 'rev-parse', 'main')).toBe(bad);
  });

  test('an encrypted SSH key with the wrong passphrase: exit 2 and the branch unchanged', async () => {
    const key = sshKey('ed25519', 'right');
    const run = await revert(key.file, { GIT_SIGNING_KEY_PASSPHRASE: 'wrong' });
    expect(run.code).toBe(2);
    expect(run.json().error).toMatchObject({ code: 'SigningKeyError', message: expect.stringContaining('could not be decrypted') });
    expect(git(bare, 'rev-parse', 'main')).toBe(bad);
  });
});
