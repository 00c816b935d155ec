/**
 * Flux in the loop on a real API server (a private control plane with Flux's own CRDs) against a
 * real git server. The operator runs as its own process with its ServiceAccount; the tests play
 * Flux's part: after the push they check the reconcile requests (the requestedAt annotations),
 * then write the Kustomization's status through the status subresource as kustomize-controller
 * would, and watch the rollback wait, succeed, fail or time out.
 */
import { writeFileSync, chmodSync } from 'node:fs';
import * as path from 'node:path';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { eventually } from '../helpers/eventually.js';
import { startControlPlane, type ControlPlane } from '../envtest/control-plane.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import {
  createGitAuthSecret,
  FLUX_GIT_REPOSITORIES,
  FLUX_IMAGE_UPDATE_AUTOMATIONS,
  FLUX_KUSTOMIZATIONS,
  GIT_AUTH as AUTH,
  installOperator,
} from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { conditionOf as condition, isFinished, waitForRollback } from '../helpers/rollback-status.js';
import { scaled } from '../helpers/time-budget.js';

const NAMESPACE = 'flux-loop';
const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

interface History {
  work: string;
  c1: string;
  c2: string;
  c3: string;
}

function buildHistory(): History {
  const work = initRepo();
  const c1 = commitFiles(work, 'Deploy frontend 1.0 and backend 1.0', {
    'apps/frontend/deploy.yaml': 'image: frontend:1.0\n',
    'apps/backend/deploy.yaml': 'image: backend:1.0\n',
  });
  const c2 = commitFiles(work, 'Deploy frontend 1.1', { 'apps/frontend/deploy.yaml': 'image: frontend:1.1\n' });
  const c3 = commitFiles(work, 'Add frontend flags', { 'apps/frontend/flags.yaml': 'checkout-v2: true\n' });
  return { work, c1, c2, c3 };
}

interface FluxObject {
  metadata: { generation: number; annotations?: Record<string, string> };
  spec: { suspend?: boolean };
}

describe('Flux in the loop on a real API server', () => {
  let plane: ControlPlane;
  let server: GitHttpServer;
  let operator: OperatorProcess;
  let root: string;
  let history: History;
  let count = 0;

  const kubectl = (args: string[], input?: string) => plane.kubectl(args, input === undefined ? undefined : { input });

  beforeAll(async () => {
    plane = await startControlPlane();
    const kubeconfig = await installOperator(plane, { fluxCrds: [FLUX_GIT_REPOSITORIES, FLUX_KUSTOMIZATIONS, FLUX_IMAGE_UPDATE_AUTOMATIONS] });
    await kubectl(['create', 'namespace', NAMESPACE]);
    await createGitAuthSecret(plane, NAMESPACE);
    root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    history = buildHistory();
    operator = await startOperator({ kubeconfigPath: kubeconfig, args: ['--apply-poll-interval=0.2'] });
    // A private control plane, the CRDs and the operator: minutes on a loaded runner.
  }, scaled(300_000));

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
    await plane?.stop();
  });

  /** A fresh server-side copy of the history behind a Flux GitRepository; returns names and paths. */
  async function publishSource(): Promise<{ id: string; source: string; bare: string }> {
    const id = `t${++count}`;
    const name = `fleet-${id}.git`;
    const bare = publishBare(history.work, root, name);
    const source = `${id}-fleet`;
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: ${source}, namespace: ${NAMESPACE}}
spec:
  interval: 1m
  url: ${server.urlFor(name)}
  ref: {branch: main}
  secretRef: {name: git-auth}
`,
    );
    return { id, source, bare };
  }

  async function createKustomization(name: string, source: string, kustomizationPath: string): Promise<void> {
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ${name}, namespace: ${NAMESPACE}}
spec:
  interval: 10m
  prune: true
  path: ${kustomizationPath}
  sourceRef: {kind: GitRepository, name: ${source}}
`,
    );
  }

  async function createRollback(name: string, source: string, extra = '', what = `  revert: {commits: [${history.c3}]}`): Promise<void> {
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata: {name: ${name}, namespace: ${NAMESPACE}}
spec:
  sourceRef: {kind: GitRepository, name: ${source}}
${what}
  incident: INC-7
${extra}`,
    );
  }

  async function getObject<T>(kind: string, name: string): Promise<T> {
    return JSON.parse(await kubectl(['get', kind, name, '-n', NAMESPACE, '-o', 'json'])) as T;
  }

  /** Polls the rollback until `done` holds; fails with its status and the operator's logs. */
  const waitRollback = (name: string, done: (r: GitOpsRollback) => boolean): Promise<GitOpsRollback> =>
    waitForRollback(plane, NAMESPACE, name, done, { diagnostics: () => operator.logs().slice(-3000) });
  const isPushed = (r: GitOpsRollback) => condition(r, 'Pushed')?.status === 'True' || condition(r, 'Stalled')?.status === 'True';

  /** Writes what kustomize-controller would: revisions, Ready, observedGeneration (status subresource). */
  async function reportKustomization(
    name: string,
    status: { applied?: string; attempted: string; ready: 'True' | 'False' | 'Unknown'; reason: string; message?: string; stalled?: boolean; handled?: string },
  ): Promise<void> {
    const { metadata } = await getObject<FluxObject>('kustomization', name);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const conditions = [
      {
        type: 'Ready',
        status: status.ready,
        reason: status.reason,
        message: status.message ?? status.reason,
        lastTransitionTime: now,
        observedGeneration: metadata.generation,
      },
    ];
    if (status.stalled) conditions.push({ ...conditions[0], type: 'Stalled', status: 'True' });
    const patch = {
      status: {
        observedGeneration: metadata.generation,
        lastAttemptedRevision: status.attempted,
        ...(status.applied ? { lastAppliedRevision: status.applied } : {}),
        ...(status.handled ? { lastHandledReconcileAt: status.handled } : {}),
        conditions,
      },
    };
    await kubectl(['patch', 'kustomization', name, '-n', NAMESPACE, '--subresource=status', '--type=merge', '-p', JSON.stringify(patch)]);
  }

  async function requestedAt(kind: string, name: string): Promise<string | undefined> {
    return (await getObject<FluxObject>(kind, name)).metadata.annotations?.[REQUESTED_AT];
  }

  describe('a named Kustomization: the reconcile request, the wait, and success with each revision format', () => {
    test.each([
      ['branch@sha1:<sha>', (sha: string) => `main@sha1:${sha}`],
      ['sha1:<sha>', (sha: string) => `sha1:${sha}`],
      ['legacy branch/<sha>', (sha: string) => `main/${sha}`],
    ])('Flux reporting %s: Ready only once the commit is applied', async (_format, revisionOf) => {
      const { id, source, bare } = await publishSource();
      const apps = `${id}-apps`;
      await createKustomization(apps, source, './apps');
      const rollbackName = `${id}-rollback`;
      const before = Date.now() - 1000;
      await createRollback(rollbackName, source, `  reconcile:\n    kustomizations: [{name: ${apps}}]\n    timeout: 2m`);
      const pushed = await waitRollback(rollbackName, isPushed);
      const head = git(bare, 'rev-parse', 'main');
      expect(pushed.status?.headAfter).toBe(head);
      expect(condition(pushed, 'Pushed')).toMatchObject({ status: 'True' });

      // The source was asked at once; the Kustomization is not, while its source has not served
      // the commit (no source-controller here): it would only re-apply the broken revision.
      const at = await requestedAt('gitrepository', source);
      expect(at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(Date.parse(at!)).toBeGreaterThanOrEqual(before);
      expect(await requestedAt('kustomization', apps)).toBeUndefined();

      // The wait: not Ready when Flux applied only the old head, once the operator has read that.
      await reportKustomization(apps, { applied: revisionOf(history.c3), attempted: revisionOf(history.c3), ready: 'True', reason: 'ReconciliationSucceeded' });
      const waiting = await waitRollback(
        rollbackName,
        (r) => r.status?.kustomizations?.some((k) => k.name === apps && k.revision === revisionOf(history.c3)) ?? false,
      );
      expect(condition(waiting, 'Ready')).toMatchObject({ status: 'Unknown', reason: 'WaitingForApply' });
      expect(condition(waiting, 'Applied')).toMatchObject({ status: 'Unknown', reason: 'WaitingForApply' });
      expect(condition(waiting, 'Reconciling')).toMatchObject({ status: 'True' });
      expect(waiting.status?.kustomizations).toEqual([
        expect.objectContaining({ name: apps, namespace: NAMESPACE, ready: false, revision: revisionOf(history.c3) }),
      ]);

      // Flux applies the rollback commit and is healthy.
      await reportKustomization(apps, { applied: revisionOf(head), attempted: revisionOf(head), ready: 'True', reason: 'ReconciliationSucceeded' });
      const done = await waitRollback(rollbackName, isFinished);
      expect(condition(done, 'Applied')).toMatchObject({ status: 'True', reason: 'Succeeded' });
      expect(condition(done, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
      expect(condition(done, 'Reconciling')).toBeUndefined();
      expect(done.status?.kustomizations).toEqual([expect.objectContaining({ name: apps, ready: true, revision: revisionOf(head) })]);
      // Time passed between the push and Flux's report (no fixed sleep sets a minimum any more).
      expect(done.status?.phases?.apply).toBeGreaterThan(0);
      expect(done.status?.phases?.total).toBeGreaterThanOrEqual(done.status!.phases!.apply!);
      expect(done.status?.completionTime).toBeDefined();
      // One revert commit: the engine never ran again while waiting.
      expect(git(bare, 'rev-list', '--count', `${history.c3}..main`)).toBe('1');
    });
  });

  test('Kustomizations that never apply the commit: Stalled=True ApplyTimeout after spec.reconcile.timeout', async () => {
    const { id, source, bare } = await publishSource();
    const apps = `${id}-apps`;
    await createKustomization(apps, source, './apps');
    await createRollback(`${id}-slow`, source, `  reconcile:\n    kustomizations: [{name: ${apps}}]\n    timeout: 2s`);
    const rollback = await waitRollback(`${id}-slow`, isFinished);
    expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'ApplyTimeout', message: expect.stringContaining('Not applied within 2s') });
    expect(condition(rollback, 'Applied')).toMatchObject({ status: 'False', reason: 'ApplyTimeout' });
    expect(condition(rollback, 'Ready')).toMatchObject({ status: 'False', reason: 'ApplyTimeout' });
    expect(condition(rollback, 'Pushed')).toMatchObject({ status: 'True' });
    expect(rollback.status?.headAfter).toBe(git(bare, 'rev-parse', 'main'));
  });

  test('a Kustomization failing on the commit: Stalled=True ApplyFailed with its message', async () => {
    const { id, source, bare } = await publishSource();
    const apps = `${id}-apps`;
    await createKustomization(apps, source, './apps');
    await createRollback(`${id}-fails`, source, `  reconcile:\n    kustomizations: [{name: ${apps}}]`);
    await waitRollback(`${id}-fails`, isPushed);
    const head = `main@sha1:${git(bare, 'rev-parse', 'main')}`;
    const failure = {
      applied: `main@sha1:${history.c3}`,
      attempted: head,
      ready: 'False' as const,
      reason: 'HealthCheckFailed',
      message: 'timeout waiting for: [Deployment/shop/frontend status: InProgress]',
    };
    await reportKustomization(apps, failure);
    // The operator asks Flux to look once more; the same failure, on that request, is final.
    const retry = await eventually('the operator to ask for one more reconcile', () => requestedAt('kustomization', apps));
    await reportKustomization(apps, { ...failure, handled: retry });
    const rollback = await waitRollback(`${id}-fails`, isFinished);
    expect(condition(rollback, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'ApplyFailed',
      message: expect.stringContaining('Deployment/shop/frontend status: InProgress'),
    });
    expect(condition(rollback, 'Applied')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    const events = JSON.parse(await kubectl(['get', 'events', '-n', NAMESPACE, '--field-selector', `involvedObject.name=${id}-fails`, '-o', 'json'])) as {
      items: { reason: string; type: string }[];
    };
    expect(events.items.map((e) => `${e.type}/${e.reason}`)).toEqual(expect.arrayContaining(['Normal/WaitingForApply', 'Warning/ApplyFailed']));
  });

  test('without spec.reconcile: the Kustomizations of the GitRepository whose path covers the change are chosen and awaited', async () => {
    const { id, source, bare } = await publishSource();
    const other = await publishSource();
    await createKustomization(`${id}-frontend`, source, './apps/frontend');
    await createKustomization(`${id}-backend`, source, './apps/backend');
    await createKustomization(`${id}-everything`, source, './');
    await createKustomization(`${id}-other-repo`, other.source, './apps/frontend');
    await createRollback(`${id}-auto`, source);
    const pushed = await waitRollback(`${id}-auto`, (r) => (r.status?.kustomizations?.length ?? 0) > 0 || isFinished(r));
    expect(pushed.status?.kustomizations?.map((k) => k.name)).toEqual([`${id}-everything`, `${id}-frontend`]);
    expect(await requestedAt('gitrepository', source)).toBeDefined();
    expect(await requestedAt('kustomization', `${id}-backend`)).toBeUndefined();
    expect(await requestedAt('kustomization', `${id}-other-repo`)).toBeUndefined();
    const head = `main@sha1:${git(bare, 'rev-parse', 'main')}`;
    await reportKustomization(`${id}-frontend`, { applied: head, attempted: head, ready: 'True', reason: 'ReconciliationSucceeded' });
    // Once the operator has seen the frontend applied, it still waits for the other one.
    const halfway = await waitRollback(`${id}-auto`, (r) => r.status?.kustomizations?.some((k) => k.name === `${id}-frontend` && k.ready) ?? false);
    expect(condition(halfway, 'Ready')).toMatchObject({ status: 'Unknown' });
    await reportKustomization(`${id}-everything`, { applied: head, attempted: head, ready: 'True', reason: 'ReconciliationSucceeded' });
    const done = await waitRollback(`${id}-auto`, isFinished);
    expect(condition(done, 'Applied')).toMatchObject({ status: 'True' });
  });

  test('no Kustomization covers the change: Ready=True after the push, and the GitRepository is still asked to reconcile', async () => {
    const { id, source } = await publishSource();
    await createKustomization(`${id}-backend`, source, './apps/backend');
    await createRollback(`${id}-none`, source);
    const done = await waitRollback(`${id}-none`, isFinished);
    expect(condition(done, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(condition(done, 'Applied')).toBeUndefined();
    expect(done.status?.kustomizations).toEqual([]);
    expect(await requestedAt('gitrepository', source)).toBeDefined();
    expect(await requestedAt('kustomization', `${id}-backend`)).toBeUndefined();
  });

  describe('spec.suspendImageUpdates: suspended right before the push, resumed when nothing is pushed', () => {
    async function createAutomation(name: string, source: string): Promise<void> {
      await kubectl(
        ['apply', '-f', '-'],
        `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: ${name}, namespace: ${NAMESPACE}}
spec:
  interval: 5m
  sourceRef: {kind: GitRepository, name: ${source}}
  git:
    commit:
      author: {name: fluxcdbot, email: fluxcdbot@example.com}
  update: {path: ./apps, strategy: Setters}
`,
      );
    }

    test('the automation is suspended, recorded in status, and stays suspended', async () => {
      const { id, source } = await publishSource();
      await createAutomation(`${id}-images`, source);
      await createRollback(`${id}-images`, source, `  suspendImageUpdates: [{name: ${id}-images}]`);
      const done = await waitRollback(`${id}-images`, isFinished);
      expect(condition(done, 'Ready')).toMatchObject({ status: 'True' });
      expect(done.status?.suspendedImageUpdates).toEqual([{ name: `${id}-images`, namespace: NAMESPACE }]);
      expect((await getObject<FluxObject>('imageupdateautomation', `${id}-images`)).spec.suspend).toBe(true);
    });

    test('a push the server declines resumes the automation the rollback suspended: nothing pushed, nothing left suspended', async () => {
      const { id, source, bare } = await publishSource();
      const hook = path.join(bare, 'hooks', 'pre-receive');
      writeFileSync(hook, '#!/bin/sh\necho "branch frozen" >&2\nexit 1\n');
      chmodSync(hook, 0o755);
      await createAutomation(`${id}-images`, source);
      await createRollback(`${id}-declined`, source, `  suspendImageUpdates: [{name: ${id}-images}]`);
      const done = await waitRollback(`${id}-declined`, isFinished);
      expect(condition(done, 'Stalled')).toMatchObject({ status: 'True', reason: 'PushRejected' });
      expect(done.status?.suspendedImageUpdates).toBeUndefined();
      expect((await getObject<FluxObject>('imageupdateautomation', `${id}-images`)).spec.suspend).toBe(false);
      const events = await kubectl([
        'get',
        'events',
        '-n',
        NAMESPACE,
        '--field-selector',
        `involvedObject.name=${id}-declined`,
        '-o',
        'jsonpath={.items[*].reason}',
      ]);
      // Suspended right before the push, resumed once it was declined.
      expect(events.split(' ')).toEqual(expect.arrayContaining(['ImageUpdatesSuspended', 'ImageUpdatesResumed']));
      expect(git(bare, 'rev-parse', 'main')).toBe(history.c3);
    });

    test('a revert that conflicts never suspends the automation', async () => {
      const { id, source, bare } = await publishSource();
      await createAutomation(`${id}-images`, source);
      // c2 changed the frontend file c1 added: reverting c1 is a modify/delete conflict.
      await createRollback(`${id}-conflict`, source, `  suspendImageUpdates: [{name: ${id}-images}]`, `  revert: {commits: [${history.c1}]}`);
      const done = await waitRollback(`${id}-conflict`, isFinished);
      expect(condition(done, 'Stalled')).toMatchObject({ status: 'True', reason: 'RevertConflict' });
      expect(done.status?.suspendedImageUpdates).toBeUndefined();
      expect((await getObject<FluxObject>('imageupdateautomation', `${id}-images`)).spec.suspend).not.toBe(true);
      expect(git(bare, 'rev-parse', 'main')).toBe(history.c3);
    });

    test('a missing automation stalls with ImageUpdateAutomationNotFound and nothing is pushed', async () => {
      const { id, source, bare } = await publishSource();
      await createRollback(`${id}-missing`, source, `  suspendImageUpdates: [{name: ${id}-nope}]`);
      const done = await waitRollback(`${id}-missing`, isFinished);
      expect(condition(done, 'Stalled')).toMatchObject({ status: 'True', reason: 'ImageUpdateAutomationNotFound' });
      expect(git(bare, 'rev-parse', 'main')).toBe(history.c3);
    });
  });
});
