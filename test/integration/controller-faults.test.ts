/**
 * The operator under faults, on a private control plane (so restarts disturb no other test):
 * the API server and etcd restarting, the git server down for a while, and a leader stopping
 * while a standby waits.
 */
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { startControlPlane, type ControlPlane } from '../envtest/control-plane.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { installOperator, LEADER_ELECTION_ARGS, SYSTEM_NAMESPACE } from '../helpers/operator-install.js';
import { freePort, startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { eventually } from '../helpers/eventually.js';
import { waitForRollback } from '../helpers/rollback-status.js';
import { scaled } from '../helpers/time-budget.js';

const NAMESPACE = 'faults';

describe('the operator under faults', () => {
  let plane: ControlPlane;
  let kubeconfig: string;
  let root: string;
  let work: string;
  let commits: string[];
  const operators: OperatorProcess[] = [];
  let repoCount = 0;

  beforeAll(async () => {
    plane = await startControlPlane();
    kubeconfig = await installOperator(plane);
    await plane.kubectl(['create', 'namespace', NAMESPACE]);
    root = makeTempDir();
    work = initRepo();
    commits = [];
    for (let i = 0; i < 6; i++) commits.push(commitFiles(work, `Deploy service ${i}`, { [`apps/svc-${i}/deploy.yaml`]: `image: svc-${i}:2\n` }));
    // A private control plane and the CRDs: minutes on a loaded runner.
  }, scaled(300_000));

  afterAll(async () => {
    for (const operator of operators) if (operator.child.exitCode === null) await operator.kill();
    await plane?.stop();
  });

  async function launch(leaderElection = true): Promise<OperatorProcess> {
    const election = leaderElection ? LEADER_ELECTION_ARGS : [];
    const operator = await startOperator({ kubeconfigPath: kubeconfig, args: [...election, '--git-timeout=5'] });
    operators.push(operator);
    return operator;
  }

  function publishRepo(): { name: string; bare: string } {
    const name = `fleet-${++repoCount}.git`;
    return { name, bare: publishBare(work, root, name) };
  }

  async function createRollback(name: string, url: string, commit: string): Promise<void> {
    await plane.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: rollback.gitops.dev/v1alpha1\nkind: GitOpsRollback\nmetadata:\n  name: ${name}\n  namespace: ${NAMESPACE}\nspec:\n  repository: {url: "${url}", branch: main}\n  revert: {commits: [${commit}]}\n`,
    });
  }

  /** Reads through API server restarts until `predicate` holds. */
  const waitFor = (name: string, predicate: (r: GitOpsRollback) => boolean, timeoutMs = 90_000): Promise<GitOpsRollback> =>
    waitForRollback(plane, NAMESPACE, name, predicate, { timeoutMs, diagnostics: () => operators.map((o) => o.logs().slice(-2000)).join('\n---\n') });

  /** Polls `condition` until it holds, with every operator's latest logs in a timeout's message. */
  const until = (what: string, condition: () => boolean): Promise<boolean> =>
    eventually(what, condition, { intervalMs: 100, diagnostics: () => operators.map((o) => o.logs().slice(-2000)).join('\n---\n') });

  const isReady = (r: GitOpsRollback) => r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

  test('the git server down for a while: Reconciling with retries, then success', async () => {
    const operator = await launch();
    const { name, bare } = publishRepo();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/${name}`;
    await createRollback('git-down', url, commits[4]);
    const waiting = await waitFor(
      'git-down',
      (r) => r.status?.conditions?.some((c) => c.type === 'Reconciling' && c.status === 'True' && c.reason !== 'Progressing') ?? false,
    );
    expect(waiting.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'GitOperationFailed' });
    let server: GitHttpServer | undefined;
    try {
      server = await startGitHttpServer({ root, port });
      const done = await waitFor('git-down', isReady);
      expect(done.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('Succeeded');
      expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Deploy service 4"');
    } finally {
      await server?.stop();
    }
    expect(await operator.stop()).toBe(0);
  });

  // Without leader election: a leader that cannot renew its lease exits on purpose (a new pod
  // takes over); what is tested here is that the informer itself recovers.
  test(
    'the API server and etcd restart: the operator recovers and handles new rollbacks',
    async () => {
      const operator = await launch(false);
      const server = await startGitHttpServer({ root });
      try {
        const { name, bare } = publishRepo();
        await plane.stopApiServer();
        await plane.stopEtcd();
        await new Promise((resolve) => setTimeout(resolve, 2000));
        await plane.startEtcd();
        await plane.startApiServer();
        await createRollback('after-restart', server.urlFor(name), commits[3]);
        await waitFor('after-restart', isReady, 120_000);
        expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Deploy service 3"');
        expect(operator.child.exitCode).toBeNull();
      } finally {
        await server.stop();
        if (operator.child.exitCode === null) await operator.stop();
      }
    },
    scaled(180_000),
  );

  test('a leader that loses its Lease mid-push lets the push finish, records it, and only then exits', async () => {
    const server = await startGitHttpServer({ root });
    const gate = makeTempDir('push-gate-');
    try {
      const operator = await startOperator({ kubeconfigPath: kubeconfig, args: [...LEADER_ELECTION_ARGS, '--git-timeout=300'] });
      operators.push(operator);
      const exited = new Promise<number | null>((resolve) => operator.child.once('exit', (code) => resolve(code)));
      await until('the operator to lead', () => /Became leader/.test(operator.logs()));
      const { name, bare } = publishRepo();
      // The server holds the push in its pre-receive hook until the test releases it.
      writeFileSync(
        path.join(bare, 'hooks', 'pre-receive'),
        `#!/bin/sh\ntouch '${gate}/started'\nwhile [ ! -f '${gate}/release' ]; do sleep 0.1; done\nexit 0\n`,
        { mode: 0o755 },
      );
      await createRollback('lease-lost', server.urlFor(name), commits[4]);
      await until('the push to reach the pre-receive hook', () => existsSync(path.join(gate, 'started')));

      // Another holder takes the Lease (as a replica would after a missed renewal).
      const renewTime = new Date().toISOString().replace('Z', '000Z');
      await plane.kubectl([
        'patch',
        'lease',
        'gitops-rollback-leader',
        '-n',
        SYSTEM_NAMESPACE,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { holderIdentity: 'another-replica', renewTime, leaseDurationSeconds: 3600 } }),
      ]);
      await until('the operator to lose the Lease', () => /Lost leadership/.test(operator.logs()));
      expect(operator.child.exitCode).toBeNull();

      writeFileSync(path.join(gate, 'release'), '');
      expect(await exited).toBe(1);
      // The push landed and was recorded before the exit: nothing for a new leader to redo.
      expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Deploy service 4"');
      const done = await waitFor('lease-lost', isReady);
      expect(done.status?.conditions?.find((c) => c.type === 'Pushed')).toMatchObject({ status: 'True' });
    } finally {
      await server.stop();
      // The Lease now names 'another-replica' for an hour: the next test's operators would never lead.
      await plane.kubectl(['delete', 'lease', 'gitops-rollback-leader', '-n', SYSTEM_NAMESPACE, '--ignore-not-found']);
    }
  });

  test(
    'a leader stopped: the standby takes over and reconciles',
    async () => {
      const server = await startGitHttpServer({ root });
      try {
        const first = await launch();
        await eventually(
          'the first operator to hold the Lease',
          async () => {
            const lease = JSON.parse(await plane.kubectl(['get', 'lease', 'gitops-rollback-leader', '-n', SYSTEM_NAMESPACE, '-o', 'json'])) as {
              spec: { holderIdentity?: string };
            };
            return lease.spec.holderIdentity?.endsWith(`_${first.child.pid}`);
          },
          { diagnostics: () => first.logs().slice(-2000) },
        );
        const second = await launch();
        const lease = JSON.parse(await plane.kubectl(['get', 'lease', 'gitops-rollback-leader', '-n', SYSTEM_NAMESPACE, '-o', 'json'])) as {
          spec: { holderIdentity: string };
        };
        expect(lease.spec.holderIdentity).toContain(`_${first.child.pid}`);
        expect(await first.stop()).toBe(0);
        const { name, bare } = publishRepo();
        await createRollback('takeover', server.urlFor(name), commits[2]);
        await waitFor('takeover', isReady, 60_000);
        const after = JSON.parse(await plane.kubectl(['get', 'lease', 'gitops-rollback-leader', '-n', SYSTEM_NAMESPACE, '-o', 'json'])) as {
          spec: { holderIdentity: string };
        };
        expect(after.spec.holderIdentity).toContain(`_${second.child.pid}`);
        expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Deploy service 2"');
        await second.stop();
      } finally {
        await server.stop();
      }
      // Two operator starts, a graceful stop and a takeover after the Lease expires.
    },
    scaled(240_000),
  );
});
