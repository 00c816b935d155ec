/**
 * The receiver over real HTTP (node:http on a free port) with a fake policy lookup and queue:
 * status codes for each kind of request, and what reaches the queue.
 */
import type { GitOpsRollbackPolicy } from '../../../src/api/v1alpha1/policy-types.js';
import { startWebhookReceiver, type PolicyAccess, type WebhookReceiver } from '../../../src/webhook/receiver.js';
import { signBody } from '../../../src/webhook/signature.js';
import { TriggerQueue } from '../../../src/webhook/trigger-queue.js';
import type { Trigger } from '../../../src/webhook/trigger.js';
import { eventually } from '../../helpers/eventually.js';

const TOKEN = 's3cret-token';
const SHA = '0123456789abcdef0123456789abcdef01234567';

const policy = (name: string, secret: boolean): PolicyAccess => ({
  policy: {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollbackPolicy',
    metadata: { namespace: 'flux-system', name, uid: `uid-${name}` },
    spec: { kustomizations: { names: ['apps'] }, ...(secret ? { secretRef: { name: 'token' } } : {}), alertmanager: { matchLabels: { team: 'shop' } } },
  } as GitOpsRollbackPolicy,
  token: secret ? TOKEN : undefined,
});

const fluxEvent = (reason = 'HealthCheckFailed', metadata: Record<string, string> = { revision: `main@sha1:${SHA}` }) => JSON.stringify({
  involvedObject: { kind: 'Kustomization', namespace: 'flux-system', name: 'apps', uid: 'k-uid' },
  severity: 'error', timestamp: '2025-01-01T00:00:00Z', message: 'Health check failed', reason, metadata, reportingController: 'kustomize-controller',
});

describe('the webhook receiver', () => {
  let receiver: WebhookReceiver;
  let processed: Trigger[];
  let requests: [string, number][];
  let lookupFails = false;

  beforeAll(async () => {
    processed = [];
    requests = [];
    const queue = new TriggerQueue({ process: async (t) => void processed.push(t) });
    receiver = await startWebhookReceiver({
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 64 * 1024,
      enqueue: (t) => queue.add(t),
      onRequest: (source, status) => requests.push([source, status]),
      loadPolicy: async (_ns, name) => {
        if (lookupFails) throw new Error('Secret missing');
        return name === 'signed' ? policy('signed', true) : name === 'open' ? policy('open', false) : null;
      },
    });
  });
  afterAll(() => receiver.close());
  beforeEach(() => {
    processed.length = 0;
    requests.length = 0;
    lookupFails = false;
  });

  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${receiver.port}${path}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });

  test.each([
    ['a correctly signed Flux event is accepted (202)', '/hook/flux/flux-system/signed', () => fluxEvent(), (b: string) => ({ 'X-Signature': signBody(b, TOKEN) }), 202],
    ['an unsigned event to a policy with a token is refused (401)', '/hook/flux/flux-system/signed', () => fluxEvent(), () => ({}), 401],
    ['an event signed with another token is refused (403)', '/hook/flux/flux-system/signed', () => fluxEvent(), (b: string) => ({ 'X-Signature': signBody(b, 'wrong') }), 403],
    ['a signature over another body is refused (403)', '/hook/flux/flux-system/signed', () => fluxEvent(), () => ({ 'X-Signature': signBody(fluxEvent('Other'), TOKEN) }), 403],
    ['an unsigned event to a policy without a token is accepted (generic provider)', '/hook/flux/flux-system/open', () => fluxEvent(), () => ({}), 202],
    ['malformed JSON is refused (400)', '/hook/flux/flux-system/open', () => '{"involvedObject":', () => ({}), 400],
    ['JSON that is not a Flux event is refused (400)', '/hook/flux/flux-system/open', () => '{"hello":"world"}', () => ({}), 400],
    ['an unknown policy is 404', '/hook/flux/flux-system/nope', () => fluxEvent(), () => ({}), 404],
    ['an unknown path is 404', '/hook/other/flux-system/open', () => fluxEvent(), () => ({}), 404],
    ['an Alertmanager payload with the bearer token is accepted', '/hook/alertmanager/flux-system/signed', () => JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'HighErrorRate', team: 'shop', kustomization: 'apps' }, annotations: {}, startsAt: 't', fingerprint: 'f' }] }), () => ({ Authorization: `Bearer ${TOKEN}` }), 202],
    ['an Alertmanager payload without the token is refused (401)', '/hook/alertmanager/flux-system/signed', () => JSON.stringify({ alerts: [] }), () => ({}), 401],
  ])('%s', async (_name, path, body, headers, status) => {
    const text = body();
    const response = await post(path, text, headers(text));
    expect(response.status).toBe(status);
  });

  test('a body over the limit is refused (413), declared or streamed', async () => {
    const big = Buffer.alloc(200 * 1024, 'a');
    expect((await post('/hook/flux/flux-system/open', big)).status).toBe(413);
    const chunked = new ReadableStream({ start(controller) { controller.enqueue(new Uint8Array(big)); controller.close(); } });
    const response = await fetch(`http://127.0.0.1:${receiver.port}/hook/flux/flux-system/open`, { method: 'POST', body: chunked, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
  });

  test('GET is 405', async () => {
    expect((await fetch(`http://127.0.0.1:${receiver.port}/hook/flux/flux-system/open`)).status).toBe(405);
  });

  test('a policy whose token Secret cannot be read refuses requests (503), never lets them through', async () => {
    lookupFails = true;
    expect((await post('/hook/flux/flux-system/signed', fluxEvent())).status).toBe(503);
  });

  test('a reason the policy does not act on, or an info event, is accepted and ignored', async () => {
    const ignored = await post('/hook/flux/flux-system/open', fluxEvent('ReconciliationSucceeded'));
    expect(ignored.status).toBe(202);
    expect(await ignored.json()).toMatchObject({ queued: 0, ignored: true });
  });

  test('duplicates are answered 202 and processed once; the legacy revision key is read', async () => {
    const body = fluxEvent('HealthCheckFailed', { 'kustomize.toolkit.fluxcd.io/revision': `main@sha1:${'9'.repeat(40)}` });
    const answers = await Promise.all(Array.from({ length: 20 }, () => post('/hook/flux/flux-system/open', body)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
    // Deduplicated when queued (before the answers), so the first processed trigger is the only one.
    await eventually('the trigger to be processed', () => processed.length > 0, { timeoutMs: 5000, intervalMs: 10 });
    expect(processed).toHaveLength(1);
    expect(processed[0]).toMatchObject({ source: 'flux', kustomization: { name: 'apps', uid: 'k-uid' }, revision: `main@sha1:${'9'.repeat(40)}`, reason: 'HealthCheckFailed' });
  });

  test('onRequest sees every request with its source and status', async () => {
    await post('/hook/flux/flux-system/signed', fluxEvent());
    await post('/hook/alertmanager/flux-system/open', JSON.stringify({ alerts: [] }));
    await post('/nowhere', '{}');
    expect(requests).toEqual([['flux', 401], ['alertmanager', 202], ['unknown', 404]]);
  });
});
