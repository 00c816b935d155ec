/**
 * The on-call commands end to end, with nothing faked: the built CLI against the real API server
 * of the cluster mode, the real source-controller and kustomize-controller (v1.9.6, which keeps
 * `Kustomization.status.history`), the operator as a process, and a real git server.
 *
 * `rollback --kustomization NS/NAME --to-last-healthy --wait` finds the last healthy revision in
 * Flux's own history, creates the GitOpsRollback, follows it phase by phase and exits 0 once Flux
 * applied the revert; the same binary answers as a kubectl plugin (`kubectl gitops-rollback`).
 */
import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startCluster, type Cluster } from '../envtest/cluster.js';
import { eventually } from '../helpers/eventually.js';
import { scaled } from '../helpers/time-budget.js';
import { commitFiles, commitMessage, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createGitAuthSecret, GIT_AUTH, installOperator } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';

jest.setTimeout(10 * 60_000);
const WAIT = { timeoutMs: 4 * 60_000 };
const CLI = path.resolve('dist/cli/gitops-rollback.js');

const configMap = (version: string): string => `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {version: "${version}"}
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command args` with the admin kubeconfig as KUBECONFIG, as an on-call engineer's shell has it. */
function run(command: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: makeTempDir(), ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

describe('on-call commands against the real API server and the real Flux (cluster mode)', () => {
  let cluster: Cluster;
  let server: GitHttpServer;
  let operator: OperatorProcess;
  let work: string;
  let bare: string;
  let good: string;
  let bad: string;
  let lastSeen: unknown;
  const ns = `oncall-${randomBytes(3).toString('hex')}`;

  const kubectl = (args: string[], input?: string) => cluster.plane.kubectl(args, input === undefined ? undefined : { input });
  const diagnostics = () => `last seen: ${JSON.stringify(lastSeen)}\noperator:\n${operator.logs().slice(-3000)}`;
  const getJson = async <T>(kind: string, name: string): Promise<T> => JSON.parse(await kubectl(['get', kind, name, '-n', ns, '-o', 'json'])) as T;
  /** The built CLI; a --wait ends within the test's own budget (scaled like every wait here). */
  const cli = (args: string[]) =>
    run(process.execPath, [CLI, ...args, ...(args.includes('--wait') ? ['--timeout', `${Math.round(scaled(WAIT.timeoutMs) / 1000)}s`] : [])], {
      KUBECONFIG: cluster.plane.kubeconfigPath,
    });

  async function push(message: string, files: Record<string, string>): Promise<string> {
    const sha = commitFiles(work, message, files);
    git(work, 'push', '-q', bare, 'main');
    await kubectl(['annotate', '--overwrite', '-n', ns, 'gitrepository/fleet', `reconcile.fluxcd.io/requestedAt=${new Date().toISOString()}`]);
    return sha;
  }

  function waitApplied(revision: string): Promise<unknown> {
    return eventually(
      `Kustomization web applies ${revision} and records it in status.history`,
      async () => {
        const k = await getJson<{ status?: { lastAppliedRevision?: string; history?: { metadata?: { revision?: string } }[] } }>('kustomization', 'web');
        lastSeen = k.status;
        return k.status?.lastAppliedRevision === `main@sha1:${revision}` && k.status.history?.[0]?.metadata?.revision === `main@sha1:${revision}`;
      },
      { ...WAIT, diagnostics },
    );
  }

  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    cluster = await startCluster();
    const kubeconfig = await installOperator(cluster.plane);
    const gitRoot = makeTempDir();
    server = await startGitHttpServer({ root: gitRoot, auth: GIT_AUTH });
    operator = await startOperator({ kubeconfigPath: kubeconfig, args: ['--apply-poll-interval=1'] });
    work = initRepo();
    good = commitFiles(work, 'Deploy web 1.0', { 'apps/web/config.yaml': configMap('1.0'), 'apps/other/README.md': 'other\n' });
    bare = publishBare(work, gitRoot, `${ns}.git`);
    await kubectl(['create', 'namespace', ns]);
    await createGitAuthSecret(cluster.plane, ns);
    await kubectl(
      ['apply', '-n', ns, '-f', '-'],
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet}
spec: {interval: 10m, url: '${server.urlFor(`${ns}.git`)}', ref: {branch: main}, secretRef: {name: git-auth}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: web}
spec: {interval: 10m, path: ./apps/web, prune: true, targetNamespace: ${ns}, sourceRef: {kind: GitRepository, name: fleet}}
`,
    );
    await waitApplied(good);
    bad = await push('Deploy web 2.0', { 'apps/web/config.yaml': configMap('2.0'), 'apps/other/README.md': 'other, changed\n' });
    await waitApplied(bad);
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
    await cluster?.stop();
  });

  test('rollback --to-last-healthy --wait: the last healthy revision from status.history, each phase as it happens, exit 0 once Flux applied it', async () => {
    const result = await cli([
      'rollback',
      '--kustomization',
      `${ns}/web`,
      '--to-last-healthy',
      '--wait',
      '--incident',
      'INC-77',
      '--reason',
      'web 2.0 is broken',
    ]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^gitopsrollback.rollback.gitops.dev/rollback-web-\\w{5} created in ${ns}: reverting ${good.slice(0, 12)}..${bad.slice(0, 12)} \\(last healthy from Flux's status.history\\)$`,
      ),
    );
    // Each phase once, in order, stamped with the time since the start; plain lines (not a terminal).
    const phases = lines.slice(1).map((line) => line.replace(/^\[\s*\d+\.\d+s\] /, ''));
    expect(lines.slice(1).every((line) => /^\[\s*\d+\.\d+s\] /.test(line))).toBe(true);
    expect(phases.map((p) => p.split(/[: ]/)[0])).toEqual(['Started', 'Reverted', 'Pushed', 'Flux', 'Applied', 'Ready', 'Done']);
    expect(result.stdout).not.toContain('\r');

    // The revert: the range limited to the Kustomization's path, squashed; the other app untouched.
    const head = git(bare, 'rev-parse', 'main');
    expect(git(bare, 'rev-parse', 'main^')).toBe(bad);
    expect(git(bare, 'show', 'main:apps/web/config.yaml')).toBe(configMap('1.0').trimEnd());
    expect(git(bare, 'show', 'main:apps/other/README.md')).toBe('other, changed');
    expect(commitMessage(bare, head)).toContain('Incident: INC-77');
    const config = await getJson<{ data: { version: string } }>('configmap', 'web-config');
    expect(config.data.version).toBe('1.0');
  });

  test("history --kustomization: the path's commits joined with Flux's status.history, what is applied now, and the rollback", async () => {
    const rollbackName = (JSON.parse(await kubectl(['get', 'gitopsrollbacks', '-n', ns, '-o', 'json'])) as { items: { metadata: { name: string } }[] })
      .items[0]!.metadata.name;
    const revert = git(bare, 'rev-parse', 'main');
    await waitApplied(revert);
    const json = await cli(['history', '--kustomization', `${ns}/web`, '--output', 'json']);
    expect({ code: json.code, stderr: json.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('http://') });
    const report = JSON.parse(json.stdout.trim().split('\n').at(-1)!) as {
      kustomization: string;
      lastAppliedRevision: string;
      commits: {
        sha: string;
        current: boolean;
        paths: string[];
        deployments: { healthy: boolean; status: string }[];
        rollbacks: { name: string; role: string; outcome: string }[];
      }[];
    };
    expect(report.kustomization).toBe(`${ns}/web`);
    expect(report.lastAppliedRevision).toBe(`main@sha1:${revert}`);
    // Only the commits touching ./apps/web, newest first (the oracle: git log on that path).
    expect(report.commits.map((c) => c.sha)).toEqual(git(bare, 'log', '--first-parent', '--format=%H', 'main', '--', 'apps/web').split('\n'));
    const [current, reverted, first] = report.commits;
    expect(current).toMatchObject({ sha: revert, current: true, deployments: [{ healthy: true, status: 'ReconciliationSucceeded' }] });
    expect(current!.rollbacks).toEqual([{ name: rollbackName, role: 'revert', outcome: 'Ready Succeeded' }]);
    expect(reverted).toMatchObject({
      sha: bad,
      current: false,
      deployments: [{ healthy: true }],
      rollbacks: [{ name: rollbackName, role: 'reverted', outcome: 'Ready Succeeded' }],
    });
    // The revert builds exactly what `good` built: Flux keeps one snapshot per digest and moved it to
    // the revert's revision, so `good` has no deployment of its own any more (kustomize-controller's Upsert).
    expect(first).toMatchObject({ sha: good, deployments: [], rollbacks: [] });
    expect(current!.deployments).toHaveLength(1);

    const text = await cli(['history', '--kustomization', `${ns}/web`]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Kustomization ${ns}/web: ./apps/web of GitRepository ${ns}/fleet\nApplied now: ${revert.slice(0, 12)}\n`);
    // The marks wrap onto indented lines of at most 99 columns.
    expect(text.stdout).toMatch(/APPLIED NOW; healthy \d{4}-\d\d-\d\d \d\d:\d\d\n {14}written by rollback-web-\w{5} \(Ready Succeeded\)/);
    expect(text.stdout).toContain(`rolled back by ${rollbackName} (Ready Succeeded)`);
    expect(Math.max(...text.stdout.split('\n').map((l) => l.length))).toBeLessThanOrEqual(99);
  });

  test('rollback --to <sha> --dry-run --wait: the explicit target, nothing pushed, exit 0 on DryRunSucceeded', async () => {
    const before = git(bare, 'rev-parse', 'main');
    await waitApplied(before);
    const result = await cli(['rollback', '--kustomization', `${ns}/web`, '--to', good.slice(0, 10), '--dry-run', '--wait']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('(last healthy from --to) as a dry run');
    expect(result.stdout.trim().split('\n').at(-1)).toMatch(/Done \(DryRunSucceeded\)$/);
    expect(git(bare, 'rev-parse', 'main')).toBe(before);
  });

  test('bad input: exit 2 with a message, and nothing created', async () => {
    const count = async () => (JSON.parse(await kubectl(['get', 'gitopsrollbacks', '-n', ns, '-o', 'json'])) as { items: unknown[] }).items.length;
    const before = await count();
    const missing = await cli(['rollback', '--kustomization', `${ns}/nope`, '--to-last-healthy']);
    expect(missing).toMatchObject({ code: 2, stderr: `gitops-rollback: Kustomization ${ns}/nope was not found\n` });
    const both = await cli(['rollback', '--kustomization', `${ns}/web`, '--to-last-healthy', '--to', good]);
    expect(both).toMatchObject({ code: 2, stderr: expect.stringContaining('exactly one of --to-last-healthy and --to') });
    expect(await count()).toBe(before);
  });

  test('the same binary as a kubectl plugin: `kubectl gitops-rollback rollback ...` finds it on PATH as kubectl-gitops_rollback', async () => {
    const plugins = makeTempDir('kubectl-plugins-');
    const plugin = path.join(plugins, 'kubectl-gitops_rollback');
    // What `npm install -g` links (package.json "bin"); a wrapper here, for this test's Node.
    fs.writeFileSync(plugin, `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`, { mode: 0o755 });
    const kubectlBinary = path.join(cluster.plane.info.binDir, 'kubectl');
    const env = { KUBECONFIG: cluster.plane.kubeconfigPath, PATH: `${plugins}:${process.env.PATH}` };
    const listed = await run(kubectlBinary, ['plugin', 'list', '--name-only'], env);
    expect(listed.stdout).toContain('kubectl-gitops_rollback');
    const wait = ['--wait', '--timeout', `${Math.round(scaled(WAIT.timeoutMs) / 1000)}s`];
    const result = await run(kubectlBinary, ['gitops-rollback', 'rollback', '--kustomization', `${ns}/web`, '--to', good, '--dry-run', ...wait], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Done \(DryRunSucceeded\)\n$/);
  });
});
