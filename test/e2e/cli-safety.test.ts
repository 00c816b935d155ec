/**
 * The built CLI's safety gate: a revert that deletes a Namespace exits 2 with the objects named
 * and nothing written; --allow-kind lets it through; the JSON report carries "safety".
 * Needs `npm run build` first (npm test does it).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JsonReport } from '../../src/cli/report.js';
import { cloneBare, commitFiles, git, initRepo, makeTempDir } from '../helpers/git-cli.js';

const CLI = path.resolve('dist/cli/gitops-rollback.js');
const NAMESPACE = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: payments\n';
const DEPLOY = (image: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: payments\n  namespace: payments\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: payments\n          image: ${image}\n`;

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string; json: () => JsonReport }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: makeTempDir() } }, (error, stdout, stderr) => {
      const lastLine = stdout.trim().split('\n').at(-1) ?? '';
      const code = error ? Number((error as { code?: number }).code ?? -1) : 0;
      resolve({ code, stdout, stderr, json: () => JSON.parse(lastLine) });
    });
  });
}

describe('gitops-rollback CLI safety gate', () => {
  let bare: string;
  let initial: string;
  let addPayments: string;
  let bump: string;

  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  });

  beforeEach(() => {
    const work = initRepo();
    initial = commitFiles(work, 'Initial', { 'README.md': 'shop\n' });
    addPayments = commitFiles(work, 'Add payments', { 'apps/payments/namespace.yaml': NAMESPACE, 'apps/payments/deploy.yaml': DEPLOY('payments:1') });
    bump = commitFiles(work, 'Bump payments', { 'apps/payments/deploy.yaml': DEPLOY('payments:2') });
    bare = cloneBare(work);
  });

  test('a revert deleting a Namespace exits 2, names the object and file, and writes nothing', async () => {
    const before = git(bare, 'rev-parse', 'main');
    const run = await runCli(['revert', '--repo', bare, '--commit', bump, '--commit', addPayments, '--cache-dir', makeTempDir()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('removed Namespace payments (apps/payments/namespace.yaml)');
    expect(run.stderr).toContain('--allow-kind Namespace');
    expect(run.stderr).toContain('Nothing was written');
    expect(run.stdout).toContain('Safety check: Blocked');
    expect(git(bare, 'rev-parse', 'main')).toBe(before);
  });

  test('--output json reports result "blocked" with the safety verdict', async () => {
    const run = await runCli(['revert', '--repo', bare, '--range', `${initial}..${bump}`, '--squash', '--output', 'json', '--cache-dir', makeTempDir()]);
    expect(run.code).toBe(2);
    expect(run.json()).toMatchObject({
      result: 'blocked',
      head: null,
      error: { code: 'SafetyCheckFailedError' },
      safety: {
        verdict: 'Blocked',
        blocked: [{ kind: 'Namespace', name: 'payments', file: 'apps/payments/namespace.yaml', change: 'removed' }],
        summary: [
          { kind: 'Deployment', added: 0, removed: 1, changed: 0 },
          { kind: 'Namespace', added: 0, removed: 1, changed: 0 },
        ],
      },
    });
  });

  test('--allow-kind Namespace lets the revert through and reports the allowed object', async () => {
    const run = await runCli([
      'revert',
      '--repo',
      bare,
      '--commit',
      bump,
      '--commit',
      addPayments,
      '--allow-kind',
      'Namespace',
      '--output',
      'json',
      '--cache-dir',
      makeTempDir(),
    ]);
    expect(run.code).toBe(0);
    const report = run.json();
    expect(report).toMatchObject({ result: 'reverted', safety: { verdict: 'Passed', allowed: [{ kind: 'Namespace', name: 'payments', change: 'removed' }] } });
    expect(git(bare, 'rev-parse', 'main')).toBe(report.head);
  });

  test('a dry run prints the verdict and the objects per kind', async () => {
    const run = await runCli(['revert', '--repo', bare, '--commit', bump, '--dry-run', '--cache-dir', makeTempDir()]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Safety check: Passed');
    expect(run.stdout).toContain('Deployment: 0 added, 0 removed, 1 changed');
  });
});
