/**
 * Proof with a real Prometheus: the operator runs as its own process on a real kube-apiserver
 * against a real git server; Debian's Prometheus scrapes its /metrics every second and evaluates
 * config/prometheus's rules. After rollbacks of every outcome (succeeded, conflict, blocked,
 * already reverted, failed), every dashboard panel query and every recording rule is run through
 * Prometheus's HTTP API and must return data of the expected shape; the scraped exposition passes
 * `promtool check metrics`; logs carry a reconcile id and Events match the conditions.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { parse } from 'yaml';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { connectToControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createGitAuthSecret, createMetricsReaderToken, GIT_AUTH as AUTH, installOperator } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { startPrometheus, waitForRulesOnScrapeAfter, type PrometheusSample, type PrometheusServer } from '../helpers/prometheus-server.js';
import { eventually } from '../helpers/eventually.js';
import { conditionOf as condition, getRollback as readRollback, waitForRollback } from '../helpers/rollback-status.js';
import { scaled } from '../helpers/time-budget.js';

const RULES = 'config/prometheus/gitops-rollback.rules.yaml';
const DASHBOARD = 'config/grafana/gitops-rollback-dashboard.json';
/** Grafana's variables as "All" and a range that covers the whole test. */
const GRAFANA_VARIABLES: Record<string, string> = { namespace: '.*', repository: '.*', job: '.*', __range: '1h', __rate_interval: '5m' };
/** Panels whose metrics this test does not produce (no webhook receiver or policy is involved). */
const MAY_BE_EMPTY = new Set(['Webhook requests by code', 'Automatic rollbacks by policy']);

interface DashboardPanel {
  type: string;
  title: string;
  targets?: { refId: string; expr: string; legendFormat?: string }[];
}

function substituteVariables(expr: string): string {
  return expr.replace(/\$\{?([A-Za-z_]+)\}?/g, (whole, name: string) => GRAFANA_VARIABLES[name] ?? whole);
}

const isNumber = (sample: PrometheusSample) => Number.isFinite(Number(sample.value[1]));

/** The sum of the gitops_rollback_total samples in a /metrics exposition. */
function countedRollbacks(exposition: string): number {
  return [...exposition.matchAll(/^gitops_rollback_total\{[^}]*\} (\S+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('metrics, rules and dashboard against a real Prometheus', () => {
  let plane: ControlPlaneClient;
  let server: GitHttpServer;
  let operator: OperatorProcess;
  let prometheus: PrometheusServer;
  let metricsToken: string;
  let namespace: string;
  let repoUrl: string;
  const names: string[] = [];

  const kubectl = (args: string[], input?: string) => plane.kubectl(args, input === undefined ? undefined : { input });

  const getRollback = (name: string): Promise<GitOpsRollback> => readRollback(plane, namespace, name);
  const waitFinished = (name: string): Promise<GitOpsRollback> =>
    waitForRollback(plane, namespace, name, undefined, { diagnostics: () => operator.logs().slice(-3000) });

  /** Polls a query until it returns samples (scrapes and rule evaluations run every second). */
  const queryUntilData = (expr: string): Promise<PrometheusSample[]> =>
    eventually(
      `samples for ${expr}`,
      async () => {
        const result = await prometheus.query(expr);
        return result.length > 0 ? result : undefined;
      },
      { intervalMs: 500, diagnostics: () => prometheus.logs().slice(-2000) },
    );

  async function applyRollback(name: string, what: string, secret = 'git-auth'): Promise<void> {
    names.push(name);
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  repository:
    url: ${repoUrl}
    branch: main
    secretRef:
      name: ${secret}
${what}
  incident: INC-5
`,
    );
  }

  beforeAll(async () => {
    plane = connectToControlPlane();
    const operatorKubeconfig = await installOperator(plane);

    const root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    const work = initRepo();
    commitFiles(work, 'Deploy frontend 1.0 and backend 1.0', {
      'apps/frontend/deploy.yaml': 'image: frontend:1.0\n',
      'apps/backend/deploy.yaml': 'image: backend:1.0\n',
    });
    commitFiles(work, 'Add the shop namespace', { 'infra/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n' });
    commitFiles(work, 'Deploy frontend 1.1 and backend 1.1', {
      'apps/frontend/deploy.yaml': 'image: frontend:1.1\n',
      'apps/backend/deploy.yaml': 'image: backend:1.1\n',
    });
    commitFiles(work, 'Add frontend flags', { 'apps/frontend/flags.yaml': 'checkout-v2: true\n' });
    publishBare(work, root, 'fleet.git');
    repoUrl = server.urlFor('fleet.git');

    namespace = `metrics-${randomBytes(3).toString('hex')}`;
    await kubectl(['create', 'namespace', namespace]);
    // Only this file's namespace: rollbacks other test files leave on the shared API server must
    // not reach these metrics.
    operator = await startOperator({ kubeconfigPath: operatorKubeconfig, args: [`--watch-namespace=${namespace}`] });
    // /metrics needs a token allowed to get it (--metrics-auth): Prometheus scrapes as a bound ServiceAccount.
    metricsToken = await createMetricsReaderToken(plane);
    prometheus = await startPrometheus({ job: 'gitops-rollback', targets: [new URL(operator.metricsUrl).host], ruleFiles: [RULES], bearerToken: metricsToken });
    // The first scrape sees every zero-initialized series before any rollback changes it.
    expect(await queryUntilData('up{job="gitops-rollback"} == 1')).toHaveLength(1);

    await createGitAuthSecret(plane, namespace);
    await kubectl(['create', 'secret', 'generic', 'wrong', '-n', namespace, '--from-literal=username=flux', '--from-literal=password=not-it']);

    const [flags, v11, nsCommit, v10] = git(work, 'log', '--format=%H', 'main').split('\n');
    // Succeeded twice, then already reverted twice, conflict twice, blocked twice, failed once.
    await applyRollback('flags', `  revert:\n    commits: [${flags}]`);
    await waitFinished('flags');
    await applyRollback('frontend', `  revert:\n    commits: [${v11}]\n    paths: [apps/frontend]`);
    await waitFinished('frontend');
    await applyRollback('flags-again', `  revert:\n    commits: [${flags}]`);
    await applyRollback('flags-third', `  revert:\n    commits: [${flags}]`);
    await applyRollback('conflict', `  revert:\n    commits: [${v10}]`);
    await applyRollback('conflict-again', `  revert:\n    commits: [${v10}]\n    paths: [apps/backend]`);
    await applyRollback('namespace', `  revert:\n    commits: [${nsCommit}]`);
    await applyRollback('namespace-again', `  revert:\n    commits: [${nsCommit}]\n    paths: [infra]`);
    await applyRollback('bad-credentials', `  revert:\n    commits: [${v11}]`, 'wrong');
    for (const name of names) await waitFinished(name);
    // A rollback's status can be written just before its counter is incremented: wait until the
    // operator counts all of them, then until Prometheus scraped after that and evaluated the
    // rules on that scrape, so every query below reads the final values (no scrape-timing guess).
    await eventually(
      'the operator to count every rollback',
      async () =>
        countedRollbacks(await (await fetch(`${operator.metricsUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text()) ===
        names.length,
      {
        diagnostics: () => operator.logs().slice(-3000),
      },
    );
    await waitForRulesOnScrapeAfter(prometheus, Date.now());
  }, scaled(180_000));

  afterAll(async () => {
    await prometheus?.stop();
    await operator?.stop();
    await server?.stop();
  });

  test('each rollback ends with the expected reason, and its Events match the conditions', async () => {
    const expected: Record<string, string> = {
      flags: 'Succeeded',
      frontend: 'Succeeded',
      'flags-again': 'AlreadyReverted',
      'flags-third': 'AlreadyReverted',
      conflict: 'RevertConflict',
      'conflict-again': 'RevertConflict',
      namespace: 'SafetyCheckFailed',
      'namespace-again': 'SafetyCheckFailed',
      'bad-credentials': 'AuthenticationFailed',
    };
    for (const [name, reason] of Object.entries(expected)) {
      const rollback = await getRollback(name);
      expect([name, condition(rollback, 'Ready')?.reason]).toEqual([name, reason]);
      const events = JSON.parse(await kubectl(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])) as {
        items: { reason: string; type: string }[];
      };
      const reasons = events.items.map((e) => `${e.type}/${e.reason}`);
      const ready = condition(rollback, 'Ready')!.status === 'True';
      expect([name, reasons]).toEqual([name, expect.arrayContaining(['Normal/Progressing', `${ready ? 'Normal' : 'Warning'}/${reason}`])]);
    }
  });

  test('log lines of a reconcile carry the object key and a reconcile id; the password is nowhere', () => {
    const lines = operator
      .logs()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const finished = lines.filter((l) => l.msg === 'Rollback finished' || l.msg === 'Rollback failed');
    expect(finished.length).toBeGreaterThanOrEqual(names.length);
    for (const line of finished) {
      expect(line.object).toEqual(expect.stringMatching(new RegExp(`^${namespace}/`)));
      expect(line.reconcileID).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    }
    expect(new Set(finished.map((l) => l.reconcileID)).size).toBe(finished.length);
    expect(operator.logs()).not.toContain(AUTH.password);
  });

  test('the scraped exposition passes promtool check metrics and has no credentials', async () => {
    const body = await (await fetch(`${operator.metricsUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
    expect(() => execFileSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' })).not.toThrow();
    expect(body).not.toContain(AUTH.password);
    expect(body).not.toContain(`${AUTH.username}:`);
  });

  test('gitops_rollback_total counts every result for the namespace and repository', async () => {
    const repository = new URL(repoUrl).host + new URL(repoUrl).pathname.replace(/\.git$/, '');
    const samples = await queryUntilData(`gitops_rollback_total{namespace="${namespace}",result="failed"} > 0`);
    expect(samples).toHaveLength(1);
    const all = await prometheus.query(`sum by (result) (gitops_rollback_total{namespace="${namespace}",repository="${repository}"})`);
    const byResult = Object.fromEntries(all.map((s) => [s.metric.result, Number(s.value[1])]));
    expect(byResult).toEqual({ succeeded: 2, already_reverted: 2, conflict: 2, blocked: 2, failed: 1, dry_run: 0 });
    const components = await prometheus.query('gitops_rollback_component_total');
    expect(components.map((s) => s.metric.component).sort()).toEqual(['apps/frontend']);
    expect(components.map((s) => Number(s.value[1]))).toEqual([2]);
    expect(await prometheus.query('gitops_rollback_git_operation_errors_total{error="AuthFailedError"} > 0')).toHaveLength(1);
    expect(await prometheus.query('gitops_rollback_in_progress == 0')).toHaveLength(1);
  });

  test('every recording rule returns data of the expected shape, recorded and evaluated', async () => {
    const groups = (parse(fs.readFileSync(RULES, 'utf8')) as { groups: { rules: { record?: string; expr: string }[] }[] }).groups;
    const records = groups.flatMap((g) => g.rules).filter((r) => r.record);
    expect(records.length).toBeGreaterThanOrEqual(7);
    const expectedLabels: Record<string, string[]> = {
      'gitops:rollback:count': ['namespace', 'repository', 'result'],
      'gitops:rollback:count1w': ['namespace', 'repository', 'result'],
      'gitops:rollback_component:count1w': ['component', 'repository'],
      'gitops:rollback:success_ratio1d': ['namespace', 'repository'],
      'gitops:rollback:duration:p99': ['phase'],
      'gitops:rollback:duration:avg': ['phase'],
      'gitops:controller_runtime_reconcile:rate5m': ['controller', 'result'],
    };
    for (const rule of records) {
      const direct = await prometheus.query(rule.expr);
      const recorded = await queryUntilData(rule.record!);
      for (const result of [direct, recorded]) {
        expect([rule.record, result.length > 0]).toEqual([rule.record, true]);
        expect([rule.record, result.every(isNumber)]).toEqual([rule.record, true]);
        const labels = Object.keys(result[0].metric)
          .filter((l) => l !== '__name__')
          .sort();
        if (expectedLabels[rule.record!]) expect([rule.record, labels]).toEqual([rule.record, expectedLabels[rule.record!]]);
      }
    }
    const count = await prometheus.query(`gitops:rollback:count{namespace="${namespace}"}`);
    expect(Object.fromEntries(count.map((s) => [s.metric.result, Number(s.value[1])]))).toMatchObject({
      succeeded: 2,
      already_reverted: 2,
      conflict: 2,
      blocked: 2,
      failed: 1,
    });
    const ratio = await prometheus.query(`gitops:rollback:success_ratio1d{namespace="${namespace}"}`);
    expect(Number(ratio[0].value[1])).toBeCloseTo(4 / 9, 5);
    const p99 = await prometheus.query('gitops:rollback:duration:p99');
    expect(p99.map((s) => s.metric.phase)).toEqual(expect.arrayContaining(['fetch', 'compute', 'push', 'total']));
  });

  test('the alert rules load, and the failures fire GitOpsRollbackFailed', async () => {
    const firing = await eventually(
      'three GitOpsRollbackFailed alerts',
      async () => {
        const body = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string> }[] } };
        const alerts = body.data.alerts.filter((a) => a.labels.alertname === 'GitOpsRollbackFailed' && a.labels.namespace === namespace);
        return alerts.length === 3 ? alerts : undefined;
      },
      { intervalMs: 500 },
    );
    expect(firing.map((a) => a.labels.result).sort()).toEqual(['blocked', 'conflict', 'failed']);
  });

  test('every dashboard panel query returns data of the expected shape', async () => {
    const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: DashboardPanel[] };
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        const expr = substituteVariables(target.expr);
        expect([panel.title, expr]).not.toEqual([panel.title, expect.stringContaining('$')]);
        const result = await prometheus.query(expr);
        if (MAY_BE_EMPTY.has(panel.title)) continue;
        expect([panel.title, target.refId, result.length > 0]).toEqual([panel.title, target.refId, true]);
        expect([panel.title, target.refId, result.every(isNumber)]).toEqual([panel.title, target.refId, true]);
        // Every label the legend names is on the series.
        for (const label of [...(target.legendFormat ?? '').matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1])) {
          if (label === 'pod') continue;
          expect([panel.title, label, result.every((s) => label in s.metric)]).toEqual([panel.title, label, true]);
        }
      }
    }
    const top = await prometheus.query(substituteVariables(panels.find((p) => p.title.startsWith('Most rolled-back'))!.targets![0].expr));
    expect(top[0].metric.component).toBe('apps/frontend');
  });
});
