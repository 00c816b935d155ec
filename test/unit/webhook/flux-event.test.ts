import { InvalidPayloadError, parseFluxEvent, parseRevisionSha } from '../../../src/webhook/flux-event.js';

const SHA = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';

/** An event as notification-controller's generic provider posts it. */
function fluxEvent(metadata: Record<string, string>): Record<string, unknown> {
  return {
    involvedObject: {
      kind: 'Kustomization',
      namespace: 'flux-system',
      name: 'apps',
      uid: 'uid-1',
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      resourceVersion: '42',
    },
    severity: 'error',
    timestamp: '2025-01-01T00:00:00Z',
    message: "Health check failed after 2m0s: timeout waiting for: [Deployment/shop/frontend status: 'InProgress']",
    reason: 'HealthCheckFailed',
    metadata,
    reportingController: 'kustomize-controller',
    reportingInstance: 'kustomize-controller-7d9',
  };
}

describe('parseFluxEvent', () => {
  test.each([
    ['the current key (notification-controller >= 1.5) gives the revision', { revision: `main@sha1:${SHA}` }],
    ['the legacy key kustomize.toolkit.fluxcd.io/revision gives the revision', { 'kustomize.toolkit.fluxcd.io/revision': `main@sha1:${SHA}` }],
  ])('%s', (_name, metadata) => {
    expect(parseFluxEvent(fluxEvent(metadata))).toEqual({
      involvedObject: { kind: 'Kustomization', namespace: 'flux-system', name: 'apps', uid: 'uid-1', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
      severity: 'error',
      reason: 'HealthCheckFailed',
      message: expect.stringContaining('Health check failed'),
      revision: `main@sha1:${SHA}`,
      reportingController: 'kustomize-controller',
      timestamp: '2025-01-01T00:00:00Z',
    });
  });

  test('an event without metadata has no revision', () => {
    const event = fluxEvent({});
    delete event.metadata;
    expect(parseFluxEvent(event).revision).toBeUndefined();
  });

  test.each([
    ['an array', []],
    ['a string', 'hello'],
    ['no involvedObject', { reason: 'HealthCheckFailed' }],
    ['no reason', { involvedObject: { kind: 'Kustomization', namespace: 'ns', name: 'n' } }],
    ['a numeric name', { involvedObject: { kind: 'Kustomization', namespace: 'ns', name: 7 }, reason: 'x' }],
    ['no namespace', { involvedObject: { kind: 'Kustomization', name: 'n' }, reason: 'x' }],
  ])('%s is rejected as an invalid payload', (_name, body) => {
    expect(() => parseFluxEvent(body)).toThrow(InvalidPayloadError);
  });
});

describe('parseRevisionSha', () => {
  test.each([
    [`main@sha1:${SHA}`, SHA],
    [`refs/heads/main@sha1:${SHA}`, SHA],
    [`sha1:${SHA}`, SHA],
    [`main/${SHA}`, SHA],
    [SHA, SHA],
    [`v1.2.3@sha1:${SHA}`, SHA],
    [`main@sha256:${'b'.repeat(64)}`, undefined],
    ['main@sha1:abc', undefined],
    ['latest@sha256:deadbeef', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%s gives %s', (revision, sha) => {
    expect(parseRevisionSha(revision)).toBe(sha);
  });
});
