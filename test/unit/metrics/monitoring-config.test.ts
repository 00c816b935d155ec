/**
 * config/prometheus and config/grafana: the rules pass promtool's checks and unit tests, the
 * PrometheusRule carries exactly the rules file's groups, and the dashboard is well formed.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { parse } from 'yaml';

const RULES = 'config/prometheus/gitops-rollback.rules.yaml';
const RULES_TEST = 'config/prometheus/gitops-rollback.rules.test.yaml';
const PROMETHEUS_RULE = 'config/prometheus/prometheus_rule.yaml';
const DASHBOARD = 'config/grafana/gitops-rollback-dashboard.json';

interface Target {
  refId: string;
  expr?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

const promtool = (...args: string[]) => execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('Prometheus rules', () => {
  test('promtool check rules passes', () => {
    expect(promtool('check', 'rules', RULES)).toMatch(/SUCCESS: \d+ rules found/);
  });

  test('promtool test rules passes (recording rules, every alert firing and not firing)', () => {
    expect(promtool('test', 'rules', RULES_TEST)).toContain('SUCCESS');
  });

  test('the PrometheusRule carries exactly the rules file groups (node scripts/generate-prometheus-rule.mjs)', () => {
    const rule = parse(fs.readFileSync(PROMETHEUS_RULE, 'utf8')) as { kind: string; spec: { groups: unknown } };
    expect(rule.kind).toBe('PrometheusRule');
    expect(rule.spec.groups).toEqual((parse(fs.readFileSync(RULES, 'utf8')) as { groups: unknown }).groups);
  });

  test('every alert tests both firing and quiet', () => {
    const groups = (parse(fs.readFileSync(RULES, 'utf8')) as { groups: { rules: { alert?: string }[] }[] }).groups;
    const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert).filter(Boolean));
    const tests = (
      parse(fs.readFileSync(RULES_TEST, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }
    ).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      expect([alert, tests.some((t) => t.alertname === alert && t.exp_alerts.length > 0)]).toEqual([alert, true]);
      expect([alert, tests.some((t) => t.alertname === alert && t.exp_alerts.length === 0)]).toEqual([alert, true]);
    }
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const queryPanels = panels.filter((p) => p.type !== 'row');
  const variables = dashboard.templating.list.map((v) => v.name);
  const BUILTIN = new Set(['__range', '__rate_interval', '__interval', '__all', '__range_s']);

  test('panel ids are unique', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('every panel has targets and every target an expr', () => {
    for (const panel of queryPanels) {
      expect([panel.title, panel.targets?.length ?? 0]).not.toEqual([panel.title, 0]);
      for (const target of panel.targets!)
        expect([panel.title, target.refId, typeof target.expr, target.expr!.length > 0]).toEqual([panel.title, target.refId, 'string', true]);
    }
  });

  test('the datasource is a variable every panel uses', () => {
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const panel of queryPanels) expect([panel.title, panel.datasource?.uid]).toEqual([panel.title, '${datasource}']);
  });

  test('every variable used is defined, and namespace and repository exist', () => {
    expect(variables).toEqual(expect.arrayContaining(['datasource', 'namespace', 'repository']));
    const text = JSON.stringify({ panels: dashboard.panels, templating: dashboard.templating });
    const used = new Set([...text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
    for (const name of used) if (!BUILTIN.has(name)) expect([name, variables.includes(name)]).toEqual([name, true]);
  });

  test('the kustomization ships it as a ConfigMap Grafana sidecars load', () => {
    const kustomization = parse(fs.readFileSync('config/grafana/kustomization.yaml', 'utf8')) as {
      configMapGenerator: { files: string[] }[];
      generatorOptions: { labels: Record<string, string> };
    };
    expect(kustomization.generatorOptions.labels).toEqual({ grafana_dashboard: '1' });
    expect(kustomization.configMapGenerator[0].files).toEqual(['gitops-rollback-dashboard.json']);
  });
});
