/**
 * Signed rollbacks against the real source-controller (v1.9.6, the cluster mode of the test
 * control plane) with GitRepository `spec.verify` on: nothing here writes Flux's status.
 *
 * The fleet's commits are signed by the git CLI with an SSH key the verify Secret trusts
 * (`*.sshpub`). An unsigned commit pushed by hand is refused by source-controller
 * (SourceVerified=False naming it) and never deployed — the silent failure signed rollbacks
 * exist for. An unsigned GitOpsRollback is refused before anything is pushed; a signed one is
 * verified by source-controller, becomes its artifact, and kustomize-controller applies it — with an
 * SSH key, then with an OpenPGP key added to the verify Secret.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { startCluster, type Cluster } from '../envtest/cluster.js';
import { commitFiles, git, gitEnv, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createGitAuthSecret, GIT_AUTH, installOperator } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { eventually } from '../helpers/eventually.js';
import { conditionOf, isFinished } from '../helpers/rollback-status.js';

jest.setTimeout(10 * 60_000);
const WAIT = { timeoutMs: 4 * 60_000 };

interface GitRepositoryStatus {
  status?: { artifact?: { revision?: string }; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

const configMap = (version: string): string => `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {version: "${version}"}
`;

describe('real source-controller with spec.verify (cluster mode)', () => {
  let cluster: Cluster;
  let server: GitHttpServer;
  let operator: OperatorProcess;
  let gitRoot: string;
  const ns = `verify-${randomBytes(3).toString('hex')}`;
  let work: string;
  let bare: string;
  let keyFile: string;
  let good: string;
  let bad: string;
  let lastSeen: unknown;

  const kubectl = (args: string[], input?: string) => cluster.plane.kubectl(args, input === undefined ? undefined : { input });
  const diagnostics = () => `last seen: ${JSON.stringify(lastSeen)}\noperator:\n${operator.logs().slice(-3000)}`;
  const getJson = async <T>(kind: string, name: string): Promise<T> => JSON.parse(await kubectl(['get', kind, name, '-n', ns, '-o', 'json'])) as T;
  const sourceVerified = (repo: GitRepositoryStatus) => repo.status?.conditions?.find((c) => c.type === 'SourceVerified');

  /** Commits with the git CLI, signed by the fleet's key (gpg.format=ssh) unless `signed` is false; pushes; asks Flux to fetch. */
  async function push(message: string, files: Record<string, string>, signed = true, notifyFlux = true): Promise<string> {
    git(work, 'pull', '-q', '--ff-only', bare, 'main');
    for (const [file, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(work, file)), { recursive: true });
      fs.writeFileSync(path.join(work, file), content);
    }
    git(work, 'add', '-A');
    const sign = signed ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${keyFile}`, 'commit', '-S'] : ['commit'];
    execFileSync('git', [...sign, '-q', '-m', message], { cwd: work, env: gitEnv() });
    const sha = git(work, 'rev-parse', 'HEAD');
    git(work, 'push', '-q', bare, 'main');
    if (notifyFlux) await kubectl(['annotate', '--overwrite', '-n', ns, 'gitrepository/fleet', `reconcile.fluxcd.io/requestedAt=${new Date().toISOString()}`]);
    return sha;
  }

  /** Waits until the GitRepository's SourceVerified condition satisfies `check`. */
  function waitSource(what: string, check: (repo: GitRepositoryStatus) => boolean): Promise<GitRepositoryStatus> {
    return eventually(
      `GitRepository ${ns}/fleet: ${what}`,
      async () => {
        const repo = await getJson<GitRepositoryStatus>('gitrepository', 'fleet');
        lastSeen = repo.status;
        return check(repo) ? repo : undefined;
      },
      { ...WAIT, diagnostics },
    );
  }

  /** Creates a GitOpsRollback of `commit` on the fleet with extra spec lines, and waits until it finished. */
  async function rollBack(name: string, commit: string, specLines: string[] = []): Promise<GitOpsRollback> {
    const spec = ['sourceRef: {kind: GitRepository, name: fleet}', `revert: {commits: ["${commit}"]}`, ...specLines].map((line) => `  ${line}`).join('\n');
    await kubectl(
      ['apply', '-n', ns, '-f', '-'],
      `apiVersion: rollback.gitops.dev/v1alpha1\nkind: GitOpsRollback\nmetadata: {name: ${name}}\nspec:\n${spec}\n`,
    );
    return waitRollback(name);
  }

  async function waitRollback(name: string): Promise<GitOpsRollback> {
    return eventually(
      `GitOpsRollback ${ns}/${name} finished`,
      async () => {
        const rollback = await getJson<GitOpsRollback>('gitopsrollback', name);
        lastSeen = rollback.status;
        return isFinished(rollback) ? rollback : undefined;
      },
      { ...WAIT, diagnostics },
    );
  }

  beforeAll(async () => {
    cluster = await startCluster();
    const kubeconfig = await installOperator(cluster.plane);
    gitRoot = makeTempDir();
    server = await startGitHttpServer({ root: gitRoot, auth: GIT_AUTH });
    operator = await startOperator({ kubeconfigPath: kubeconfig, args: ['--apply-poll-interval=1'] });

    const keys = makeTempDir();
    keyFile = path.join(keys, 'fleet-bot');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fleet-bot', '-f', keyFile]);
    work = initRepo();
    commitFiles(work, 'Start', { 'README.md': 'fleet\n' });
    bare = publishBare(work, gitRoot, `${ns}.git`);
    await kubectl(['create', 'namespace', ns]);
    await createGitAuthSecret(cluster.plane, ns);
    await kubectl(['create', 'secret', 'generic', 'trusted-keys', '-n', ns, `--from-file=fleet-bot.sshpub=${keyFile}.pub`]);
    await kubectl(['create', 'secret', 'generic', 'signing-key', '-n', ns, `--from-file=identity=${keyFile}`]);
    good = await push('Deploy web 1.0', { 'apps/web/config.yaml': configMap('1.0') }, true, false);
    await kubectl(
      ['apply', '-n', ns, '-f', '-'],
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet}
spec:
  interval: 10m
  url: '${server.urlFor(`${ns}.git`)}'
  ref: {branch: main}
  secretRef: {name: git-auth}
  verify: {mode: HEAD, secretRef: {name: trusted-keys}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: web}
spec: {interval: 10m, path: ./apps/web, prune: true, targetNamespace: ${ns}, sourceRef: {kind: GitRepository, name: fleet}}
`,
    );
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
    await cluster?.stop();
  });

  test("source-controller verifies the fleet's signed head and serves it", async () => {
    const repo = await waitSource(
      'verified and serving the signed head',
      (r) => sourceVerified(r)?.status === 'True' && r.status?.artifact?.revision === `main@sha1:${good}`,
    );
    expect(sourceVerified(repo)?.message).toContain(good);
    await eventually(
      'Kustomization web applies the signed head',
      async () => {
        const k = await getJson<{ status?: { lastAppliedRevision?: string } }>('kustomization', 'web');
        lastSeen = k.status;
        return k.status?.lastAppliedRevision === `main@sha1:${good}`;
      },
      { ...WAIT, diagnostics },
    );
  });

  test('an unsigned commit pushed by hand is refused by source-controller, naming it, and never served', async () => {
    bad = await push('Deploy web 2.0 (unsigned)', { 'apps/web/config.yaml': configMap('2.0') }, false);
    const repo = await waitSource(
      'refusing the unsigned head',
      (r) => sourceVerified(r)?.status === 'False' && (sourceVerified(r)?.message ?? '').includes(bad),
    );
    // What apply-wait's SourceVerificationFailed check reads: False, naming the commit.
    expect(sourceVerified(repo)?.reason).toBe('InvalidCommitSignature');
    expect(repo.status?.artifact?.revision).toBe(`main@sha1:${good}`);
    const config = await getJson<{ data: { version: string } }>('configmap', 'web-config');
    expect(config.data.version).toBe('1.0');
  });

  test('an unsigned GitOpsRollback is refused before the push (SigningRequired): nothing pushed', async () => {
    const rollback = await rollBack('unsigned', bad);
    expect(conditionOf(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'SigningRequired' });
    expect(git(bare, 'rev-parse', 'main')).toBe(bad);
  });

  test('a signed GitOpsRollback: source-controller verifies the revert, serves it as its artifact, and kustomize-controller applies it', async () => {
    const rollback = await rollBack('signed', bad, [
      'signing: {secretRef: {name: signing-key}}',
      'reconcile: {kustomizations: [{name: web}]}',
      'incident: INC-5150',
    ]);
    expect({ conditions: rollback.status?.conditions }).toMatchObject({
      conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'True' })]),
    });
    const revert = git(bare, 'rev-parse', 'main');
    expect(git(bare, 'rev-parse', 'main^')).toBe(bad);
    const repo = await waitSource('serving the signed revert', (r) => r.status?.artifact?.revision === `main@sha1:${revert}`);
    expect(sourceVerified(repo)).toMatchObject({ status: 'True', message: expect.stringContaining(revert) });
    const config = await getJson<{ data: { version: string } }>('configmap', 'web-config');
    expect(config.data.version).toBe('1.0');
  });

  test('an OpenPGP key: its public key added to the verify Secret, source-controller verifies the signed revert of another bad commit', async () => {
    const gnupgHome = makeTempDir('gnupg-');
    fs.chmodSync(gnupgHome, 0o700);
    const gpg = (...args: string[]): string =>
      execFileSync('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', ...args], { env: { ...process.env, GNUPGHOME: gnupgHome }, encoding: 'utf8' });
    try {
      gpg('--passphrase', '', '--quick-gen-key', 'Fleet Bot <fleet-bot@example.com>', 'ed25519', 'sign', 'never');
      const files = makeTempDir();
      fs.writeFileSync(path.join(files, 'fleet-bot.asc'), gpg('--armor', '--export', 'fleet-bot@example.com'));
      fs.writeFileSync(path.join(files, 'git.asc'), gpg('--armor', '--export-secret-keys', 'fleet-bot@example.com'));
      const trusted = await kubectl([
        'create',
        'secret',
        'generic',
        'trusted-keys',
        '-n',
        ns,
        `--from-file=fleet-bot.sshpub=${keyFile}.pub`,
        `--from-file=fleet-bot.asc=${path.join(files, 'fleet-bot.asc')}`,
        '--dry-run=client',
        '-o',
        'yaml',
      ]);
      await kubectl(['apply', '-f', '-'], trusted);
      await kubectl(['create', 'secret', 'generic', 'signing-pgp', '-n', ns, `--from-file=git.asc=${path.join(files, 'git.asc')}`]);
    } finally {
      execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: gnupgHome } });
    }
    const bad2 = await push('Deploy web 2.1 (unsigned)', { 'apps/web/config.yaml': configMap('2.1') }, false);
    await waitSource('refusing the second unsigned head', (r) => sourceVerified(r)?.status === 'False' && (sourceVerified(r)?.message ?? '').includes(bad2));
    const rollback = await rollBack('signed-pgp', bad2, ['signing: {secretRef: {name: signing-pgp}}', 'reconcile: {kustomizations: [{name: web}]}']);
    expect({ conditions: rollback.status?.conditions }).toMatchObject({
      conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'True' })]),
    });
    const revert = git(bare, 'rev-parse', 'main');
    const repo = await waitSource('serving the OpenPGP-signed revert', (r) => r.status?.artifact?.revision === `main@sha1:${revert}`);
    expect(sourceVerified(repo)).toMatchObject({ status: 'True', message: expect.stringContaining(revert) });
  });
});
