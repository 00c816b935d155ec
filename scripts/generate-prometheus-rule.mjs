// Writes config/prometheus/prometheus_rule.yaml (a PrometheusRule for the Prometheus Operator)
// from config/prometheus/gitops-rollback.rules.yaml, the one source of the rules.
// Usage: node scripts/generate-prometheus-rule.mjs   (test/unit/metrics/prometheus-config.test.ts
// fails when the two differ).
import * as fs from 'node:fs';
import { parse, stringify } from 'yaml';

const SOURCE = 'config/prometheus/gitops-rollback.rules.yaml';
const TARGET = 'config/prometheus/prometheus_rule.yaml';

const { groups } = parse(fs.readFileSync(SOURCE, 'utf8'));
const rule = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: {
    name: 'gitops-rollback',
    namespace: 'gitops-rollback-system',
    labels: { 'app.kubernetes.io/name': 'gitops-rollback', 'app.kubernetes.io/component': 'metrics' },
  },
  spec: { groups },
};
const header = `# Generated from ${SOURCE} by scripts/generate-prometheus-rule.mjs: edit that file, not this one.\n`;
fs.writeFileSync(TARGET, header + stringify(rule, { lineWidth: 0 }));
