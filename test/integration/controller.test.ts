/**
 * The operator on a real kube-apiserver + etcd (test/envtest) against a real git server: the
 * operator runs as its own process with the ServiceAccount token config/rbac binds, exactly as
 * in a cluster. Each case creates GitOpsRollbacks with kubectl and checks status conditions,
 * Events and the commits on the server branch.
 */
import { randomBytes } from 'node:crypto';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { FAULT_ENV, FAULT_EXIT_CODE } from '../../src/cli/fault-injection.js';
import { connectToControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createGitAuthSecret, FLUX_GIT_REPOSITORIES, GIT_AUTH as AUTH, installOperator, LEADER_ELECTION_ARGS } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { conditionOf as condition, getRollback as readRollback, waitForRollback } from '../helpers/rollback-status.js';
import { eventually } from '../helpers/eventually.js';
import { scaled } from '../helpers/time-budget.js';

interface History {
  work: string;
  c1: string;
  c2: string;
  c3: string;
  c4: string;
  merge: string;
}

function buildHistory(): History {
  const work = initRepo();
  const c1 = commitFiles(work, 'Deploy frontend 1.0 and backend 1.0', {
    'apps/frontend/deploy.yaml': 'image: frontend:1.0\n',
    'apps/backend/deploy.yaml': 'image: backend:1.0\n',
  });
  const c2 = commitFiles(work, 'Deploy frontend 1.1 and backend 1.1', {
    'apps/frontend/deploy.yaml': 'image: frontend:1.1\n',
    'apps/backend/deploy.yaml': 'image: backend:1.1\n',
  });
  const c3 = commitFiles(work, 'Add frontend flags', { 'apps/frontend/flags.yaml': 'checkout-v2: true\n' });
  git(work, 'checkout', '-q', '-b', 'feature');
  commitFiles(work, 'Add payments', { 'apps/payments/deploy.yaml': 'image: payments:1.0\n' });
  git(work, 'checkout', '-q', 'main');
  const c4 = commitFiles(work, 'Label infra', { 'infra/ns.yaml': 'name: shop\n' });
  git(work, 'merge', '-q', '--no-ff', '-m', "Merge branch 'feature'", 'feature');
  const merge = git(work, 'rev-parse', 'HEAD');
  return { work, c1, c2, c3, c4, merge };
}

describe('GitOpsRollback controller on a real API server', () => {
  let plane: ControlPlaneClient;
  let server: GitHttpServer;
  let root: string;
  let history: History;
  let operator: OperatorProcess;
  let operatorKubeconfig: string;
  let namespace: string;
  let repoCount = 0;

  const kubectl = (args: string[], input?: string) => plane.kubectl(args, input === undefined ? undefined : { input });

  beforeAll(async () => {
    plane = connectToControlPlane();
    operatorKubeconfig = await installOperator(plane, { fluxCrds: [FLUX_GIT_REPOSITORIES] });

    root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    history = buildHistory();
    operator = await startOperator({ kubeconfigPath: operatorKubeconfig, args: LEADER_ELECTION_ARGS });
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
  });

  beforeEach(async () => {
    namespace = `rb-${randomBytes(3).toString('hex')}`;
    await kubectl(['create', 'namespace', namespace]);
    await createGitAuthSecret(plane, namespace);
  });

  /** A fresh server-side copy of the history; returns its URL and bare path. */
  function publishRepo(): { url: string; bare: string } {
    const name = `fleet-${++repoCount}.git`;
    return { url: server.urlFor(name), bare: publishBare(history.work, root, name) };
  }

  function rollbackYaml(name: string, url: string, what: string, extra = ''): string {
    return `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  repository:
    url: ${url}
    branch: main
    secretRef:
      name: git-auth
${what}
  incident: INC-4242
${extra}`;
  }

  const getRollback = (name: string): Promise<GitOpsRollback> => readRollback(plane, namespace, name);

  /** Waits until the rollback is finished (Ready=True or Stalled=True) and returns it. */
  const waitFinished = (name: string, timeoutMs?: number): Promise<GitOpsRollback> =>
    waitForRollback(plane, namespace, name, undefined, { timeoutMs, diagnostics: () => operator.logs().slice(-3000) });

  async function eventReasons(name: string): Promise<string[]> {
    const list = JSON.parse(await kubectl(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])) as {
      items: { reason: string; type: string }[];
    };
    return list.items.map((e) => `${e.type}/${e.reason}`);
  }

  describe('each target kind lands one correct commit', () => {
    const cases: [string, (h: History) => string, (bare: string, h: History) => void][] = [
      [
        'a single commit',
        (h) => `  revert:\n    commits: [${h.c2.slice(0, 7)}]`,
        (bare) => {
          expect(git(bare, 'show', 'main:apps/frontend/deploy.yaml')).toBe('image: frontend:1.0');
          expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Deploy frontend 1.1 and backend 1.1"');
        },
      ],
      [
        'a list of commits',
        (h) => `  revert:\n    commits: [${h.c2}, ${h.c3}]`,
        (bare, h) => {
          expect(git(bare, 'log', '--format=%s', `${h.merge}..main`).split('\n')).toEqual([
            'Revert "Deploy frontend 1.1 and backend 1.1"',
            'Revert "Add frontend flags"',
          ]);
        },
      ],
      [
        'a range',
        (h) => `  revert:\n    range: {from: ${h.c1}, to: ${h.c3}}`,
        (bare, h) => {
          expect(git(bare, 'rev-list', '--count', `${h.merge}..main`)).toBe('2');
        },
      ],
      [
        'a merge with mainline 1',
        (h) => `  revert:\n    commits: [${h.merge}]\n    mainline: 1`,
        (bare) => {
          expect(() => git(bare, 'show', 'main:apps/payments/deploy.yaml')).toThrow();
          expect(git(bare, 'log', '-1', '--format=%B', 'main')).toContain('reversing\nchanges made to');
        },
      ],
      [
        'squashed commits',
        (h) => `  revert:\n    commits: [${h.c2}, ${h.c3}]\n    squash: true`,
        (bare, h) => {
          expect(git(bare, 'rev-list', '--count', `${h.merge}..main`)).toBe('1');
          expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert 2 commits');
        },
      ],
      [
        'a revert limited to paths',
        (h) => `  revert:\n    commits: [${h.c2}]\n    paths: [apps/frontend]`,
        (bare) => {
          expect(git(bare, 'show', 'main:apps/frontend/deploy.yaml')).toBe('image: frontend:1.0');
          expect(git(bare, 'show', 'main:apps/backend/deploy.yaml')).toBe('image: backend:1.1');
        },
      ],
      [
        'a restore',
        (h) => `  restore:\n    revision: ${h.c1}\n    paths: [apps/frontend]`,
        (bare, h) => {
          expect(git(bare, 'rev-parse', 'main:apps/frontend')).toBe(git(bare, 'rev-parse', `${h.c1}:apps/frontend`));
        },
      ],
    ];
    test.each(cases)('%s: Ready=True Succeeded, the commit on the branch, Events', async (_name, what, check) => {
      const { url, bare } = publishRepo();
      await kubectl(['apply', '-f', '-'], rollbackYaml('rollback', url, what(history)));
      const rollback = await waitFinished('rollback');
      expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded', observedGeneration: 1 });
      expect(condition(rollback, 'Pushed')).toMatchObject({ status: 'True' });
      expect(condition(rollback, 'Reconciling')).toBeUndefined();
      expect(rollback.status).toMatchObject({ observedGeneration: 1, headBefore: history.merge, headAfter: git(bare, 'rev-parse', 'main') });
      expect(rollback.status?.startTime).toBeDefined();
      expect(rollback.status?.completionTime).toBeDefined();
      expect(git(bare, 'log', '-1', '--format=%(trailers:key=Incident,valueonly)', 'main')).toBe('INC-4242');
      expect(git(bare, 'log', '-1', '--format=%(trailers:key=Rollback-Request,valueonly)', 'main')).toBe(`${namespace}/rollback/${rollback.metadata.uid}`);
      check(bare, history);
      expect(await eventReasons('rollback')).toEqual(expect.arrayContaining(['Normal/Progressing', 'Normal/Succeeded']));
    });
  });

  test('a Flux GitRepository sourceRef supplies url, branch and Secret', async () => {
    const { url, bare } = publishRepo();
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: ${namespace}
spec:
  interval: 1m
  url: ${url}
  ref:
    branch: main
  secretRef:
    name: git-auth
`,
    );
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata:
  name: from-flux
  namespace: ${namespace}
spec:
  sourceRef: {kind: GitRepository, name: flux-system}
  revert: {commits: [${history.c3}]}
  reason: 500s on /checkout
`,
    );
    const rollback = await waitFinished('from-flux');
    expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Add frontend flags"');
  });

  describe('the API server rejects bad requests (CRD schema and CEL)', () => {
    test.each([
      [
        'both sourceRef and repository',
        (url: string) => `  sourceRef: {kind: GitRepository, name: x}\n  repository: {url: ${url}, branch: main}\n  revert: {commits: [${'a'.repeat(40)}]}`,
        /exactly one of sourceRef and repository/,
      ],
      ['a malformed sha', (url: string) => `  repository: {url: ${url}, branch: main}\n  revert: {commits: [xyz]}`, /should match/],
      ['neither revert nor restore', (url: string) => `  repository: {url: ${url}, branch: main}`, /exactly one of revert and restore/],
      [
        'a path with ..',
        (url: string) => `  repository: {url: ${url}, branch: main}\n  restore: {revision: ${'a'.repeat(40)}, paths: [../etc]}`,
        /must not contain/,
      ],
    ])('%s', async (_name, spec, message) => {
      const yaml = `apiVersion: rollback.gitops.dev/v1alpha1\nkind: GitOpsRollback\nmetadata:\n  name: bad\n  namespace: ${namespace}\nspec:\n${spec(server.urlFor('x.git'))}\n`;
      await expect(kubectl(['apply', '-f', '-'], yaml)).rejects.toMatchObject({ data: { stderr: expect.stringMatching(message) } });
    });

    test('the spec cannot change after creation', async () => {
      const { url } = publishRepo();
      await kubectl(['apply', '-f', '-'], rollbackYaml('immutable', url, `  revert:\n    commits: [${history.c3}]\n  dryRun: true`));
      await waitFinished('immutable');
      await expect(
        kubectl(['patch', 'gitopsrollback', 'immutable', '-n', namespace, '--type=merge', '-p', '{"spec":{"reason":"changed"}}']),
      ).rejects.toMatchObject({
        data: { stderr: expect.stringMatching(/spec is immutable/) },
      });
    });
  });

  describe('bad input stalls with a clear reason and leaves the branch untouched', () => {
    test.each([
      ['an unknown commit', 'CommitNotFound', () => `  revert:\n    commits: [${'d'.repeat(40)}]`, ''],
      ['a merge without mainline', 'MergeWithoutMainline', (h: History) => `  revert:\n    commits: [${h.merge}]`, ''],
      ['a conflicting revert', 'RevertConflict', (h: History) => `  revert:\n    commits: [${h.c1}]`, ''],
    ])('%s: Stalled=True %s', async (_name, reason, what) => {
      const { url, bare } = publishRepo();
      await kubectl(['apply', '-f', '-'], rollbackYaml('stalls', url, what(history)));
      const rollback = await waitFinished('stalls');
      expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason });
      expect(condition(rollback, 'Ready')).toMatchObject({ status: 'False', reason });
      expect(git(bare, 'rev-parse', 'main')).toBe(history.merge);
      expect(await eventReasons('stalls')).toContain(`Warning/${reason}`);
      if (reason === 'RevertConflict') expect(rollback.status?.conflicts?.length).toBeGreaterThan(0);
    });

    test('a missing Secret: Stalled=True SecretNotFound', async () => {
      const { url, bare } = publishRepo();
      await kubectl(['apply', '-f', '-'], rollbackYaml('no-secret', url, `  revert:\n    commits: [${history.c3}]`).replace('name: git-auth', 'name: missing'));
      const rollback = await waitFinished('no-secret');
      expect(condition(rollback, 'Stalled')).toMatchObject({ reason: 'SecretNotFound' });
      expect(git(bare, 'rev-parse', 'main')).toBe(history.merge);
    });

    test('wrong credentials: Stalled=True AuthenticationFailed, and the password appears nowhere', async () => {
      const { url, bare } = publishRepo();
      await kubectl(['create', 'secret', 'generic', 'wrong', '-n', namespace, '--from-literal=username=flux', '--from-literal=password=not-Th3-password']);
      await kubectl(['apply', '-f', '-'], rollbackYaml('wrong-creds', url, `  revert:\n    commits: [${history.c3}]`).replace('name: git-auth', 'name: wrong'));
      const rollback = await waitFinished('wrong-creds');
      expect(condition(rollback, 'Stalled')).toMatchObject({ reason: 'AuthenticationFailed' });
      expect(git(bare, 'rev-parse', 'main')).toBe(history.merge);
      const everything = JSON.stringify(rollback) + (await kubectl(['get', 'events', '-n', namespace, '-o', 'json'])) + operator.logs();
      expect(everything).not.toContain('not-Th3-password');
      expect(everything).not.toContain(AUTH.password);
    });
  });

  test(
    '20 rollbacks on the same branch at once: 20 revert commits, each exactly once',
    async () => {
      const work = initRepo();
      const commits: string[] = [];
      for (let i = 0; i < 20; i++) commits.push(commitFiles(work, `Deploy service ${i}`, { [`apps/svc-${i}/deploy.yaml`]: `image: svc-${i}:2\n` }));
      const name = `many-${++repoCount}.git`;
      const bare = publishBare(work, root, name);
      const manifests = commits.map((sha, i) => rollbackYaml(`svc-${i}`, server.urlFor(name), `  revert:\n    commits: [${sha}]`)).join('---\n');
      await kubectl(['apply', '-f', '-'], manifests);
      for (let i = 0; i < 20; i++) expect(condition(await waitFinished(`svc-${i}`, 120_000), 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
      const subjects = git(bare, 'log', '--format=%s', `${commits.at(-1)}..main`).split('\n');
      expect(subjects).toHaveLength(20);
      expect(new Set(subjects).size).toBe(20);
    },
    scaled(180_000),
  );

  test('deleted and re-created with the same spec: AlreadyReverted, still one commit', async () => {
    const { url, bare } = publishRepo();
    const yaml = rollbackYaml('again', url, `  revert:\n    commits: [${history.c3}]`);
    await kubectl(['apply', '-f', '-'], yaml);
    await waitFinished('again');
    await kubectl(['delete', 'gitopsrollback', 'again', '-n', namespace]);
    await kubectl(['apply', '-f', '-'], yaml);
    const second = await waitFinished('again');
    expect(condition(second, 'Ready')).toMatchObject({ status: 'True', reason: 'AlreadyReverted' });
    expect(git(bare, 'rev-list', '--count', `${history.merge}..main`)).toBe('1');
  });

  test(
    'killed between push and status write: the restarted operator records the commit, never reverts twice',
    async () => {
      const { url, bare } = publishRepo();
      await operator.stop();
      // The test-only fault point (src/cli/fault-injection.ts): the operator exits right after its
      // push succeeded and before it writes the status, the exact window crash recovery is for.
      const faulty = await startOperator({ kubeconfigPath: operatorKubeconfig, args: LEADER_ELECTION_ARGS, env: { [FAULT_ENV]: 'exit-after-push' } });
      try {
        await kubectl(['apply', '-f', '-'], rollbackYaml('crash', url, `  revert:\n    commits: [${history.c3}]`));
        const exitCode = await eventually('the operator to exit at the fault', () => faulty.child.exitCode ?? undefined, {
          diagnostics: () => faulty.logs().slice(-3000),
        });
        expect(exitCode).toBe(FAULT_EXIT_CODE);
      } finally {
        await faulty.kill();
      }
      // Pushed, but nothing recorded: the branch has the revert, the status no push.
      expect(git(bare, 'rev-list', '--count', `${history.merge}..main`)).toBe('1');
      expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Add frontend flags"');
      const crashed = await getRollback('crash');
      expect(condition(crashed, 'Reconciling')).toMatchObject({ status: 'True' });
      expect(condition(crashed, 'Pushed')).toBeUndefined();
      expect(crashed.status?.headAfter).toBeUndefined();

      operator = await startOperator({ kubeconfigPath: operatorKubeconfig, args: LEADER_ELECTION_ARGS });
      // The restarted operator waits for the crashed one's Lease to expire, then finds its commit.
      const rollback = await waitFinished('crash', 90_000);
      expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
      expect(condition(rollback, 'Pushed')).toMatchObject({ status: 'True' });
      expect(rollback.status?.headAfter).toBe(git(bare, 'rev-parse', 'main'));
      expect(git(bare, 'rev-list', '--count', `${history.merge}..main`)).toBe('1');
      expect(git(bare, 'log', '-1', '--format=%(trailers:key=Rollback-Request,valueonly)', 'main')).toBe(`${namespace}/crash/${rollback.metadata.uid}`);
    },
    scaled(180_000),
  );
});
