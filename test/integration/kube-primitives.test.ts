// The Kubernetes building blocks of the controller (informer, leader election, events) against a
// real kube-apiserver + etcd: the shared control plane of the run, and a private one for the
// tests that stop the API server.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { connectToControlPlane, startControlPlane, type ControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';
import { loadKubeConfig } from '../../src/kube/client.js';
import { EventRecorder, MAX_MESSAGE_BYTES, type EventSubject } from '../../src/kube/events.js';
import { Informer, type InformerEventType, type InformerObject, type InformerOptions } from '../../src/kube/informer.js';
import { LeaderElector } from '../../src/kube/leader-election.js';
import { createLogger, type Logger } from '../../src/logging/logger.js';
import { eventually } from '../helpers/eventually.js';
import { scaled } from '../helpers/time-budget.js';

// Only for time that must pass (watch timeouts, an outage) or a quiet period after the awaited
// events (nothing more may arrive); never to wait for something to happen: that is waitFor().
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` holds (see eventually()). */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  await eventually(what, check, { timeoutMs, intervalMs: 50 });
}

/** A logger whose lines are kept for assertions (and printed nowhere). */
function captureLogger(): { logger: Logger; messages: () => string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ destination: stream, level: 'debug' });
  return { logger, messages: () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg) };
}

function makeName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

async function createNamespace(plane: ControlPlaneClient, prefix: string): Promise<string> {
  const namespace = makeName(prefix);
  await plane.kubectl(['create', 'namespace', namespace]);
  return namespace;
}

/** Creates ConfigMaps in one kubectl call. */
async function createConfigMaps(plane: ControlPlaneClient, namespace: string, names: string[], data = 'v1'): Promise<void> {
  const docs = names.map((name) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { value: data } }));
  await plane.kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }) });
}

async function patchConfigMap(plane: ControlPlaneClient, namespace: string, name: string, value: string): Promise<void> {
  await plane.kubectl(['-n', namespace, 'patch', 'configmap', name, '--type=merge', '-p', JSON.stringify({ data: { value } })]);
}

interface SeenEvent {
  type: InformerEventType;
  name: string;
  value?: string;
}

/** Starts a ConfigMap informer on one namespace that records every event. */
function makeConfigMapInformer(
  plane: ControlPlaneClient,
  namespace: string,
  extra: Partial<Pick<InformerOptions<InformerObject>, 'pageSize' | 'watchTimeoutSeconds' | 'logger' | 'backoff'>> = {},
) {
  const seen: SeenEvent[] = [];
  const informer = new Informer<InformerObject & { data?: Record<string, string> }>({
    kubeConfig: loadKubeConfig(plane.kubeconfigPath),
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    onEvent: (type, object) => seen.push({ type, name: object.metadata?.name ?? '', value: object.data?.value }),
    backoff: { initialMs: 200, maxMs: 1000 },
    ...extra,
  });
  return { informer, seen };
}

describe('Kubernetes primitives on the shared control plane', () => {
  let plane: ControlPlaneClient;
  beforeAll(() => {
    plane = connectToControlPlane();
  });

  describe('Informer', () => {
    it('lists existing objects page by page, then sees an add, a modify and a delete once each', async () => {
      const namespace = await createNamespace(plane, 'inf');
      await createConfigMaps(plane, namespace, ['a', 'b', 'c']);
      const { informer, seen } = makeConfigMapInformer(plane, namespace, { pageSize: 1 });
      try {
        await informer.start();
        expect(informer.hasSynced).toBe(true);
        expect(seen.map((e) => `${e.type} ${e.name}`).sort()).toEqual(['ADDED a', 'ADDED b', 'ADDED c']);
        expect(informer.list()).toHaveLength(3);
        expect(informer.get(namespace, 'a')).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } });

        seen.length = 0;
        await createConfigMaps(plane, namespace, ['d']);
        await waitFor('d added', () => seen.length >= 1);
        await patchConfigMap(plane, namespace, 'd', 'v2');
        await waitFor('d modified', () => seen.length >= 2);
        await plane.kubectl(['-n', namespace, 'delete', 'configmap', 'd']);
        await waitFor('d deleted', () => seen.length >= 3);
        await sleep(500);
        expect(seen).toEqual([
          { type: 'ADDED', name: 'd', value: 'v1' },
          { type: 'MODIFIED', name: 'd', value: 'v2' },
          { type: 'DELETED', name: 'd', value: 'v2' },
        ]);
        expect(informer.get(namespace, 'd')).toBeUndefined();
      } finally {
        await informer.stop();
      }
    });

    it('renews the watch after the server-side timeout without losing or repeating events', async () => {
      const namespace = await createNamespace(plane, 'inf-timeout');
      const { informer, seen } = makeConfigMapInformer(plane, namespace, { watchTimeoutSeconds: 1 });
      try {
        await informer.start();
        await createConfigMaps(plane, namespace, ['before']);
        await sleep(2500); // at least two watch timeouts
        await createConfigMaps(plane, namespace, ['after']);
        await waitFor('after added', () => seen.length >= 2);
        await sleep(1500);
        expect(seen.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED before', 'ADDED after']);
      } finally {
        await informer.stop();
      }
    });

    it('periodic resync re-emits MODIFIED for cached objects', async () => {
      const namespace = await createNamespace(plane, 'inf-resync');
      await createConfigMaps(plane, namespace, ['a']);
      const seen: string[] = [];
      const informer = new Informer({
        kubeConfig: loadKubeConfig(plane.kubeconfigPath),
        path: `/api/v1/namespaces/${namespace}/configmaps`,
        onEvent: (type, object) => seen.push(`${type} ${object.metadata?.name}`),
        resyncMs: 300,
      });
      try {
        await informer.start();
        await waitFor('two resyncs', () => seen.length >= 3);
        expect(seen.slice(0, 3)).toEqual(['ADDED a', 'MODIFIED a', 'MODIFIED a']);
      } finally {
        await informer.stop();
      }
    });

    it('stop() before the first list completes rejects start() and leaves nothing running', async () => {
      const unreachable = new Informer({
        kubeConfig: withServer(loadKubeConfig(plane.kubeconfigPath), 'https://127.0.0.1:1'),
        path: '/api/v1/configmaps',
        onEvent: () => undefined,
        backoff: { initialMs: 50, maxMs: 100 },
      });
      const started = unreachable.start();
      await sleep(300);
      expect(unreachable.hasSynced).toBe(false);
      await unreachable.stop();
      await expect(started).rejects.toMatchObject({ code: 'InformerStoppedError' });
    });
  });

  describe('LeaderElector', () => {
    it('elects exactly one of two replicas, and a stopped leader hands over at once', async () => {
      const namespace = await createNamespace(plane, 'lease');
      const kubeConfig = loadKubeConfig(plane.kubeconfigPath);
      const log: string[] = [];
      const makeElector = (identity: string): LeaderElector =>
        new LeaderElector({
          kubeConfig,
          namespace,
          name: 'gitops-rollback-leader',
          identity,
          leaseDurationSeconds: 6,
          renewDeadlineSeconds: 4,
          retryPeriodSeconds: 0.5,
          onStartedLeading: () => log.push(`start ${identity}`),
          onStoppedLeading: () => void log.push(`stop ${identity}`),
        });
      const electors = [makeElector('replica-a'), makeElector('replica-b')];
      try {
        electors.forEach((e) => e.start());
        await waitFor('a leader', () => electors.some((e) => e.isLeader));
        await sleep(2000);
        expect(electors.filter((e) => e.isLeader)).toHaveLength(1);
        expect(log).toHaveLength(1);
        const leader = electors.find((e) => e.isLeader)!;
        const standby = electors.find((e) => !e.isLeader)!;
        const leaderId = log[0].replace('start ', '');

        const lease = JSON.parse(await plane.kubectl(['-n', namespace, 'get', 'lease', 'gitops-rollback-leader', '-o', 'json'])) as {
          spec: { holderIdentity: string; renewTime: string; acquireTime: string; leaseDurationSeconds: number };
        };
        expect(lease.spec).toMatchObject({ holderIdentity: leaderId, leaseDurationSeconds: 6 });
        expect(lease.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

        const stoppedAt = Date.now();
        await leader.stop();
        expect(leader.isLeader).toBe(false);
        await waitFor('the standby to lead', () => standby.isLeader);
        const after = JSON.parse(await plane.kubectl(['-n', namespace, 'get', 'lease', 'gitops-rollback-leader', '-o', 'json'])) as {
          spec: { holderIdentity: string; leaseTransitions: number; acquireTime: string };
        };
        // "At once": the standby acquired before the stopped leader's lease (6 s) could have expired,
        // read from the Lease itself rather than from how fast this test noticed.
        expect(Date.parse(after.spec.acquireTime) - stoppedAt).toBeLessThan(6000);
        expect(after.spec.holderIdentity).not.toBe(leaderId);
        expect(after.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
        // A voluntary stop is no loss: onStoppedLeading is for leadership lost unasked.
        expect(log.filter((line) => line.startsWith('stop'))).toEqual([]);
      } finally {
        await Promise.all(electors.map((e) => e.stop()));
      }
    });
  });

  describe('EventRecorder', () => {
    it('creates Events that kubectl shows, and aggregates repeats into a count', async () => {
      const namespace = await createNamespace(plane, 'events');
      await createConfigMaps(plane, namespace, ['subject']);
      const cm = JSON.parse(await plane.kubectl(['-n', namespace, 'get', 'configmap', 'subject', '-o', 'json'])) as EventSubject;
      const recorder = new EventRecorder(loadKubeConfig(plane.kubeconfigPath), 'gitops-rollback-controller', undefined, { instance: 'test-pod' });

      await recorder.record(cm, 'Normal', 'Reverted', 'Reverted 1 commit');
      await Promise.all([recorder.record(cm, 'Normal', 'Reverted', 'Reverted 1 commit'), recorder.record(cm, 'Normal', 'Reverted', 'Reverted 1 commit')]);
      await recorder.record(cm, 'Warning', 'PushFailed', 'x'.repeat(3000));

      const list = JSON.parse(await plane.kubectl(['-n', namespace, 'get', 'events', '-o', 'json'])) as {
        items: {
          reason: string;
          count: number;
          type: string;
          message: string;
          source: { component: string };
          involvedObject: { uid: string; kind: string };
          firstTimestamp: string;
          lastTimestamp: string;
        }[];
      };
      const byReason = Object.fromEntries(list.items.map((e) => [e.reason, e]));
      expect(list.items).toHaveLength(2);
      expect(byReason.Reverted).toMatchObject({
        type: 'Normal',
        count: 3,
        message: 'Reverted 1 commit',
        source: { component: 'gitops-rollback-controller' },
        involvedObject: { uid: cm.metadata.uid, kind: 'ConfigMap' },
      });
      expect(byReason.PushFailed.type).toBe('Warning');
      expect(Buffer.byteLength(byReason.PushFailed.message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);

      const events = await plane.kubectl(['-n', namespace, 'events', '--for', 'configmap/subject']);
      expect(events).toMatch(/Reverted/);
      expect(events).toMatch(/PushFailed/);
      const described = await plane.kubectl(['-n', namespace, 'describe', 'configmap', 'subject']);
      expect(described).toMatch(/Normal\s+Reverted\s+.*gitops-rollback-controller\s+Reverted 1 commit/);
      expect(described).toMatch(/\(x3 over/);
    });

    it('never throws when the API server cannot be reached', async () => {
      const { logger, messages } = captureLogger();
      const recorder = new EventRecorder(withServer(loadKubeConfig(plane.kubeconfigPath), 'https://127.0.0.1:1'), 'test', logger);
      const subject: EventSubject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default', uid: 'u' } };
      await expect(recorder.record(subject, 'Normal', 'Test', 'message')).resolves.toBeUndefined();
      expect(messages()).toContain('Failed to record event');
    });
  });
});

describe('Kubernetes primitives across an API server restart (private control plane)', () => {
  let plane: ControlPlane;
  beforeAll(async () => {
    plane = await startControlPlane();
  }, scaled(120_000));
  afterAll(async () => {
    await plane?.stop();
  });

  it(
    'the informer recovers, sees changes made during and after the outage, and replays nothing else',
    async () => {
      const namespace = await createNamespace(plane, 'restart');
      const steady = Array.from({ length: 20 }, (_, i) => `steady-${i}`);
      await createConfigMaps(plane, namespace, [...steady, 'changed', 'removed']);
      const { logger, messages } = captureLogger();
      // Slow retries, so the informer is still disconnected when the changes below are made.
      const { informer, seen } = makeConfigMapInformer(plane, namespace, { logger, backoff: { initialMs: 1500, maxMs: 3000 } });
      try {
        await informer.start();
        expect(seen).toHaveLength(22);
        seen.length = 0;

        await plane.stopApiServer();
        await sleep(1500);
        await plane.startApiServer();
        // Made while the informer is still backing off: it must catch up on them.
        await patchConfigMap(plane, namespace, 'changed', 'v2');
        await plane.kubectl(['-n', namespace, 'delete', 'configmap', 'removed']);
        await createConfigMaps(plane, namespace, ['created-during']);
        await waitFor('the outage changes', () => seen.length >= 3, 60_000);
        // And after it has reconnected.
        await createConfigMaps(plane, namespace, ['created-after']);
        await waitFor('the post-outage change', () => seen.length >= 4, 30_000);
        await sleep(1500);

        const relisted = messages().includes('Watch expired (410); relisting');
        process.stderr.write(`informer recovery path: ${relisted ? 'relist after 410' : 'watch resumed from resourceVersion'}\n`);
        // Exactly the four changes: none of the 20 unchanged objects is replayed.
        expect(seen.map((e) => `${e.type} ${e.name}`).sort()).toEqual(['ADDED created-after', 'ADDED created-during', 'DELETED removed', 'MODIFIED changed']);
        expect(informer.get(namespace, 'changed')).toMatchObject({ data: { value: 'v2' } });
        expect(informer.list()).toHaveLength(22 - 1 + 2);
      } finally {
        await informer.stop();
      }
    },
    scaled(120_000),
  );

  it(
    'the informer sees changes made after an etcd restart, and only those',
    async () => {
      const namespace = await createNamespace(plane, 'etcd-restart');
      await createConfigMaps(plane, namespace, ['a', 'b', 'c']);
      const { informer, seen } = makeConfigMapInformer(plane, namespace);
      try {
        await informer.start();
        seen.length = 0;
        await plane.stopEtcd();
        await sleep(2000);
        await plane.startEtcd();
        await waitFor(
          'the API server to write again',
          async () => {
            try {
              await createConfigMaps(plane, namespace, ['after-etcd']);
              return true;
            } catch {
              return false;
            }
          },
          60_000,
        );
        await waitFor('the change', () => seen.length >= 1, 30_000);
        await sleep(1500);
        expect(seen.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED after-etcd']);
      } finally {
        await informer.stop();
      }
    },
    scaled(120_000),
  );

  it(
    'a leader that cannot renew steps down within the renew deadline',
    async () => {
      const namespace = await createNamespace(plane, 'lease-lost');
      const stopped: number[] = [];
      const elector = new LeaderElector({
        kubeConfig: loadKubeConfig(plane.kubeconfigPath),
        namespace,
        name: 'leader',
        identity: 'only-replica',
        leaseDurationSeconds: 4,
        renewDeadlineSeconds: 2,
        retryPeriodSeconds: 0.5,
        onStartedLeading: () => undefined,
        onStoppedLeading: () => void stopped.push(Date.now()),
      });
      try {
        elector.start();
        await waitFor('leadership', () => elector.isLeader);
        await plane.stopApiServer();
        const downAt = Date.now();
        await waitFor('step-down', () => !elector.isLeader, 10_000);
        // The renew deadline (2 s) counts from the last successful renew, which precedes downAt;
        // the rest is slack for a loaded machine.
        expect(stopped[0] - downAt).toBeLessThan(3500);
        await plane.startApiServer();
        await waitFor('leadership again', () => elector.isLeader, 20_000);
      } finally {
        await elector.stop();
      }
    },
    scaled(60_000),
  );
});

/** Points a freshly loaded kubeconfig at another server (to test unreachable API servers). */
function withServer(kubeConfig: KubeConfig, server: string): KubeConfig {
  const current = kubeConfig.getCurrentCluster()!.name;
  kubeConfig.clusters = kubeConfig.clusters.map((c) => (c.name === current ? { ...c, server } : c));
  return kubeConfig;
}
