/**
 * spec.signing on a real kube-apiserver + etcd, with the operator as its own process and a real
 * git server: the key comes from a Secret shaped as ImageUpdateAutomation's (git.asc or identity,
 * and passphrase), the pushed revert is checked with `git verify-commit` (gpg for OpenPGP,
 * ssh-keygen's allowed signers for SSH), and a key that cannot sign stalls the rollback with
 * nothing pushed and nothing of the key in its status.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connectToControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';
import { commitFiles, git, gitEnv, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { installRejectingHook, startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createGitAuthSecret, FLUX_GIT_REPOSITORIES, GIT_AUTH as AUTH, installOperator } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { conditionOf as condition, waitForRollback } from '../helpers/rollback-status.js';

const PASSPHRASE = 'signing-passphrase-7f3a';

describe('spec.signing on a real API server', () => {
  let plane: ControlPlaneClient;
  let server: GitHttpServer;
  let root: string;
  let work: string;
  let bad: string;
  let operator: OperatorProcess;
  let namespace: string;
  let gnupgHome: string;
  let repoCount = 0;

  const kubectl = (args: string[], input?: string) => plane.kubectl(args, input === undefined ? undefined : { input });
  const gpg = (...args: string[]): string =>
    execFileSync('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', ...args], { env: { ...process.env, GNUPGHOME: gnupgHome }, encoding: 'utf8' });

  beforeAll(async () => {
    plane = connectToControlPlane();
    const kubeconfig = await installOperator(plane, { fluxCrds: [FLUX_GIT_REPOSITORIES] });
    root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    work = initRepo();
    commitFiles(work, 'Deploy frontend 1.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.0\n' });
    bad = commitFiles(work, 'Deploy frontend 1.1', { 'apps/frontend/deploy.yaml': 'image: frontend:1.1\n' });
    gnupgHome = makeTempDir('gnupg-');
    fs.chmodSync(gnupgHome, 0o700);
    gpg('--passphrase', PASSPHRASE, '--quick-gen-key', 'Rollback Bot <bot@example.com>', 'ed25519', 'sign', 'never');
    operator = await startOperator({ kubeconfigPath: kubeconfig });
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
    spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: gnupgHome } });
  });

  beforeEach(async () => {
    namespace = `sign-${randomBytes(3).toString('hex')}`;
    await kubectl(['create', 'namespace', namespace]);
    await createGitAuthSecret(plane, namespace);
  });

  /** A fresh server-side copy of the history, a signing Secret from `secretData` (none: unsigned), and the rollback; returns when it finished. */
  async function rollBack(secretData: Record<string, string> | undefined, prepare?: (bare: string) => Promise<void>, verify?: Record<string, string>) {
    const name = `fleet-${++repoCount}.git`;
    const bare = publishBare(work, root, name);
    await prepare?.(bare);
    if (verify) await createVerifyingSource(server.urlFor(name), verify);
    const files = makeTempDir();
    const fromFiles = Object.entries(secretData ?? {}).map(([key, value]) => {
      fs.writeFileSync(path.join(files, key), value);
      return `--from-file=${key}=${path.join(files, key)}`;
    });
    if (secretData) await kubectl(['create', 'secret', 'generic', 'signing-key', '-n', namespace, ...fromFiles]);
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata: {name: signed, namespace: ${namespace}}
spec:
${verify ? '  sourceRef: {kind: GitRepository, name: fleet}' : `  repository: {url: ${server.urlFor(name)}, branch: main, secretRef: {name: git-auth}}`}
  revert: {commits: ["${bad}"]}
${secretData ? '  signing: {secretRef: {name: signing-key}}\n' : ''}  incident: INC-77
`,
    );
    const rollback = await waitForRollback(plane, namespace, 'signed', undefined, { diagnostics: () => operator.logs().slice(-3000) });
    return { rollback, bare };
  }

  /** A GitRepository `fleet` with spec.verify (mode HEAD) trusting the keys of `trusted` (a Secret: *.sshpub SSH, others OpenPGP). */
  async function createVerifyingSource(url: string, trusted: Record<string, string>) {
    const files = makeTempDir();
    const fromFiles = Object.entries(trusted).map(([key, value]) => {
      fs.writeFileSync(path.join(files, key), value);
      return `--from-file=${key}=${path.join(files, key)}`;
    });
    await kubectl(['create', 'secret', 'generic', 'trusted-keys', '-n', namespace, ...fromFiles]);
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: ${namespace}}
spec:
  interval: 1m
  url: ${url}
  ref: {branch: main}
  secretRef: {name: git-auth}
  verify: {mode: HEAD, secretRef: {name: trusted-keys}}
`,
    );
  }

  /** A new ed25519 key pair from ssh-keygen: the private key and the public key line. */
  function sshKeyPair(): { identity: string; publicKey: string } {
    const dir = makeTempDir();
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rollback-bot', '-f', path.join(dir, 'id')]);
    return { identity: fs.readFileSync(path.join(dir, 'id'), 'utf8'), publicKey: fs.readFileSync(path.join(dir, 'id.pub'), 'utf8') };
  }

  const verify = (bare: string, config: string[], env: Record<string, string> = {}) =>
    spawnSync('git', [...config.flatMap((c) => ['-c', c]), 'verify-commit', '--raw', 'main'], { cwd: bare, env: gitEnv(env), encoding: 'utf8' });

  test('an OpenPGP key (git.asc + passphrase): the pushed revert verifies with gpg', async () => {
    const armored = gpg('--passphrase', PASSPHRASE, '--armor', '--export-secret-keys', 'bot@example.com');
    const { rollback, bare } = await rollBack({ 'git.asc': armored, passphrase: PASSPHRASE });
    expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True' });
    expect(git(bare, 'rev-parse', 'main^')).toBe(bad);
    const verified = verify(bare, [], { GNUPGHOME: gnupgHome });
    expect(`${verified.stdout}${verified.stderr}`).toContain('GOODSIG');
    expect(verified.status).toBe(0);
  });

  test('an SSH key (identity): the pushed revert verifies with gpg.format=ssh and allowed signers', async () => {
    const keyDir = makeTempDir();
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rollback-bot', '-f', path.join(keyDir, 'id')]);
    const allowed = path.join(keyDir, 'allowed_signers');
    fs.writeFileSync(allowed, `bot@example.com namespaces="git" ${fs.readFileSync(path.join(keyDir, 'id.pub'), 'utf8')}`);
    const { rollback, bare } = await rollBack({ identity: fs.readFileSync(path.join(keyDir, 'id'), 'utf8') });
    expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True' });
    const verified = verify(bare, ['gpg.format=ssh', `gpg.ssh.allowedSignersFile=${allowed}`]);
    expect(`${verified.stdout}${verified.stderr}`).toContain('Good "git" signature for bot@example.com');
    expect(verified.status).toBe(0);
  });

  test.each([
    ['the wrong passphrase', 'wrong-passphrase-1234', 'could not be decrypted with the given passphrase'],
    ['no passphrase', undefined, 'encrypted and no passphrase'],
  ])('an encrypted OpenPGP key with %s: Stalled SigningKeyInvalid, nothing pushed, nothing of the key in the status', async (_what, passphrase, message) => {
    const armored = gpg('--passphrase', PASSPHRASE, '--armor', '--export-secret-keys', 'bot@example.com');
    const { rollback, bare } = await rollBack({ 'git.asc': armored, ...(passphrase ? { passphrase } : {}) });
    expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'SigningKeyInvalid', message: expect.stringContaining(message) });
    expect(git(bare, 'rev-parse', 'main')).toBe(bad);
    const status = JSON.stringify(rollback.status);
    expect(status).not.toContain('BEGIN PGP');
    const keyBody = armored.split('\n').find((line) => line.length > 60)!;
    expect(status).not.toContain(keyBody.slice(0, 40));
    if (passphrase) expect(status).not.toContain(passphrase);
  });

  test('a Secret with neither git.asc nor identity: Stalled SigningKeyInvalid, nothing pushed', async () => {
    const { rollback, bare } = await rollBack({ 'signing.key': 'x' });
    expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'SigningKeyInvalid', message: expect.stringContaining('neither git.asc') });
    expect(git(bare, 'rev-parse', 'main')).toBe(bad);
  });

  test("a host that requires verified signatures (GitHub's GH006 words, from a real pre-receive hook): an unsigned revert stalls SignatureRequired, saying what to do", async () => {
    const hookMessage = 'error: GH006: Protected branch update failed for refs/heads/main. Commits must have verified signatures.';
    const { rollback, bare } = await rollBack(undefined, (bare) => installRejectingHook(bare, hookMessage));
    const stalled = condition(rollback, 'Stalled');
    expect(stalled).toMatchObject({ status: 'True', reason: 'SignatureRequired' });
    expect(stalled?.message).toContain('GH006');
    expect(stalled?.message).toContain('set spec.signing');
    expect(git(bare, 'rev-parse', 'main')).toBe(bad);
  });

  describe('a GitRepository that verifies HEAD signatures (spec.verify)', () => {
    test('an unsigned rollback stalls SigningRequired before anything is pushed', async () => {
      const key = sshKeyPair();
      const { rollback, bare } = await rollBack(undefined, undefined, { 'bot.sshpub': key.publicKey });
      expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'SigningRequired', message: expect.stringContaining('spec.verify') });
      expect(git(bare, 'rev-parse', 'main')).toBe(bad);
    });

    test('a key the verify Secret does not hold stalls SigningKeyNotTrusted before anything is pushed', async () => {
      const signer = sshKeyPair();
      const other = sshKeyPair();
      const { rollback, bare } = await rollBack({ identity: signer.identity }, undefined, { 'ops.sshpub': other.publicKey });
      expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'SigningKeyNotTrusted', message: expect.stringContaining('SHA256:') });
      expect(git(bare, 'rev-parse', 'main')).toBe(bad);
    });

    test('an SSH key listed under *.sshpub is trusted: the signed revert is pushed', async () => {
      const signer = sshKeyPair();
      const { rollback, bare } = await rollBack({ identity: signer.identity }, undefined, {
        'ops.sshpub': sshKeyPair().publicKey,
        'bot.sshpub': signer.publicKey,
      });
      expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True' });
      expect(git(bare, 'rev-parse', 'main^')).toBe(bad);
    });

    test('an OpenPGP key whose public key is in the Secret (any key not ending in .sshpub) is trusted', async () => {
      const armored = gpg('--passphrase', PASSPHRASE, '--armor', '--export-secret-keys', 'bot@example.com');
      const publicKey = gpg('--armor', '--export', 'bot@example.com');
      const { rollback, bare } = await rollBack({ 'git.asc': armored, passphrase: PASSPHRASE }, undefined, { 'bot.asc': publicKey });
      expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True' });
      expect(git(bare, 'rev-parse', 'main^')).toBe(bad);
    });

    test('the same OpenPGP key under a .sshpub name is not trusted (as source-controller reads the Secret)', async () => {
      const armored = gpg('--passphrase', PASSPHRASE, '--armor', '--export-secret-keys', 'bot@example.com');
      const publicKey = gpg('--armor', '--export', 'bot@example.com');
      const { rollback, bare } = await rollBack({ 'git.asc': armored, passphrase: PASSPHRASE }, undefined, { 'bot.sshpub': publicKey });
      expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'SigningKeyNotTrusted' });
      expect(git(bare, 'rev-parse', 'main')).toBe(bad);
    });
  });
});
