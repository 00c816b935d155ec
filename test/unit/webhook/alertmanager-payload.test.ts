import type { GitOpsRollbackPolicy } from '../../../src/api/v1alpha1/policy-types.js';
import { mapAlertsToTriggers, parseAlertmanagerPayload } from '../../../src/webhook/alertmanager-payload.js';
import { InvalidPayloadError } from '../../../src/webhook/flux-event.js';

const policy = (alertmanager?: GitOpsRollbackPolicy['spec']['alertmanager']): GitOpsRollbackPolicy => ({
  apiVersion: 'rollback.gitops.dev/v1alpha1',
  kind: 'GitOpsRollbackPolicy',
  metadata: { namespace: 'flux-system', name: 'apps', uid: 'p-uid' },
  spec: { kustomizations: { names: ['apps', 'infra'] }, alertmanager },
});

const alert = (status: string, labels: Record<string, string>, fingerprint = 'f1') => ({
  status,
  labels,
  annotations: { summary: 'Error rate above 5%' },
  startsAt: '2025-01-01T00:00:00Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus',
  fingerprint,
});

/** Alertmanager's webhook body (version 4). */
const payload = (alerts: unknown[]) => ({
  version: '4',
  groupKey: '{}:{alertname="HighErrorRate"}',
  truncatedAlerts: 0,
  status: 'firing',
  receiver: 'gitops-rollback',
  groupLabels: {},
  commonLabels: {},
  commonAnnotations: {},
  externalURL: 'http://alertmanager',
  alerts,
});

describe('mapAlertsToTriggers', () => {
  test('a firing alert naming a Kustomization becomes one trigger for the policy', () => {
    const triggers = mapAlertsToTriggers(
      parseAlertmanagerPayload(payload([alert('firing', { alertname: 'HighErrorRate', kustomization: 'apps', team: 'shop' })])),
      policy({ matchLabels: { team: 'shop' } }),
    );
    expect(triggers).toEqual([
      {
        source: 'alertmanager',
        policy: { namespace: 'flux-system', name: 'apps' },
        kustomization: { namespace: 'flux-system', name: 'apps' },
        reason: 'HighErrorRate',
        message: 'Error rate above 5%',
        alert: { fingerprint: 'f1', startsAt: '2025-01-01T00:00:00Z' },
      },
    ]);
  });

  test.each([
    ['a resolved alert triggers nothing', alert('resolved', { alertname: 'A', kustomization: 'apps', team: 'shop' }), { matchLabels: { team: 'shop' } }, 0],
    ['an alert missing a matched label triggers nothing', alert('firing', { alertname: 'A', kustomization: 'apps' }), { matchLabels: { team: 'shop' } }, 0],
    [
      'an alert with another value triggers nothing',
      alert('firing', { alertname: 'A', kustomization: 'apps', team: 'web' }),
      { matchLabels: { team: 'shop' } },
      0,
    ],
    ['an alert without the Kustomization label triggers nothing', alert('firing', { alertname: 'A', team: 'shop' }), { matchLabels: { team: 'shop' } }, 0],
    ['a custom Kustomization label is read', alert('firing', { alertname: 'A', flux_kustomization: 'infra' }), { kustomizationLabel: 'flux_kustomization' }, 1],
    ['a policy without matchers takes every firing alert naming a Kustomization', alert('firing', { alertname: 'A', kustomization: 'apps' }), undefined, 1],
  ])('%s', (_name, one, mapping, count) => {
    expect(mapAlertsToTriggers(parseAlertmanagerPayload(payload([one])), policy(mapping))).toHaveLength(count);
  });

  test.each([
    ['no alerts array', { version: '4' }],
    ['an alert that is not an object', payload(['x'])],
    ['a label that is not a string', payload([{ status: 'firing', labels: { a: 1 } }])],
    ['an alert without status', payload([{ labels: {} }])],
  ])('%s is an invalid payload', (_name, body) => {
    expect(() => parseAlertmanagerPayload(body)).toThrow(InvalidPayloadError);
  });
});
