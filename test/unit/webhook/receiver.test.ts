/**
 * The receiver over real HTTP (node:http on a free port) with a fake policy lookup and queue:
 * status codes for each kind of request, what reaches the queue, and what a hostile caller can
 * make it spend (no body read before the credentials header, a connection cap).
 */
import * as net from 'node:net';
import type { GitOpsRollbackPolicy } from '../../../src/api/v1alpha1/policy-types.js';
import { startWebhookReceiver, type PolicyAccess, type WebhookReceiver } from '../../../src/webhook/receiver.js';
import { signBody } from '../../../src/webhook/signature.js';
import { TriggerQueue } from '../../../src/webhook/trigger-queue.js';
import type { Trigger } from '../../../src/webhook/trigger.js';
import { eventually } from '../../helpers/eventually.js';

const TOKEN = 's3cret-token';
const SHA = '0123456789abcdef0123456789abcdef01234567';
const LIMIT = 64 * 1024;

const policy = (name: string, secret: boolean): PolicyAccess => ({
  policy: {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollbackPolicy',
    metadata: { namespace: 'flux-system', name, uid: `uid-${name}` },
    spec: { kustomizations: { names: ['apps'] }, ...(secret ? { secretRef: { name: 'token' } } : {}), alertmanager: { matchLabels: { team: 'shop' } } },
  } as GitOpsRollbackPolicy,
  token: secret ? TOKEN : undefined,
});

const fluxEvent = (reason = 'HealthCheckFailed', metadata: Record<string, string> = { revision: `main@sha1:${SHA}` }) =>
  JSON.stringify({
    involvedObject: { kind: 'Kustomization', namespace: 'flux-system', name: 'apps', uid: 'k-uid' },
    severity: 'error',
    timestamp: '2025-01-01T00:00:00Z',
    message: 'Health check failed',
    reason,
    metadata,
    reportingController: 'kustomize-controller',
  });
const signed = (body: string | Buffer) => ({ 'X-Signature': signBody(body, TOKEN) });

/**
 * Sends `head` (request line and headers) over a raw socket and resolves with everything the
 * server answers until it closes the connection ('' when it closes without a word). No body is
 * sent unless given: a server that waits for the declared body before answering never answers.
 */
function rawRequest(port: number, head: string, body?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(body ? Buffer.concat([Buffer.from(head), body]) : head));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? undefined : reject(error)));
  });
}
const postHead = (path: string, length: number, headers: Record<string, string> = {}) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

describe('the webhook receiver', () => {
  let receiver: WebhookReceiver;
  let processed: Trigger[];
  let queue: TriggerQueue;
  let requests: [string, number][];
  let lookupFails = false;

  beforeAll(async () => {
    processed = [];
    requests = [];
    queue = new TriggerQueue({ process: async (t) => void processed.push(t) });
    receiver = await startWebhookReceiver({
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: LIMIT,
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
    ['a correctly signed Flux event is accepted (202)', '/hook/flux/flux-system/signed', () => fluxEvent(), signed, 202],
    ['an unsigned event is refused (401)', '/hook/flux/flux-system/signed', () => fluxEvent(), () => ({}), 401],
    [
      'an event signed with another token is refused (403)',
      '/hook/flux/flux-system/signed',
      () => fluxEvent(),
      (b: string) => ({ 'X-Signature': signBody(b, 'wrong') }),
      403,
    ],
    ['a signature over another body is refused (403)', '/hook/flux/flux-system/signed', () => fluxEvent(), () => signed(fluxEvent('Other')), 403],
    ['a malformed signature is refused (403)', '/hook/flux/flux-system/signed', () => fluxEvent(), () => ({ 'X-Signature': 'sha256=abc' }), 403],
    ['fail closed: an unsigned event to a policy without a token Secret is refused (403)', '/hook/flux/flux-system/open', () => fluxEvent(), () => ({}), 403],
    [
      'fail closed: even "signed", a policy without a token Secret accepts nothing (403)',
      '/hook/flux/flux-system/open',
      () => fluxEvent(),
      (b: string) => ({ 'X-Signature': signBody(b, '') }),
      403,
    ],
    ['malformed JSON is refused (400)', '/hook/flux/flux-system/signed', () => '{"involvedObject":', signed, 400],
    ['JSON that is not a Flux event is refused (400)', '/hook/flux/flux-system/signed', () => '{"hello":"world"}', signed, 400],
    [
      'a revision longer than 512 characters is refused (400)',
      '/hook/flux/flux-system/signed',
      () => fluxEvent('HealthCheckFailed', { revision: `main@sha1:${SHA}${'x'.repeat(600)}` }),
      signed,
      400,
    ],
    ['an unknown policy is 404', '/hook/flux/flux-system/nope', () => fluxEvent(), signed, 404],
    ['an unknown path is 404', '/hook/other/flux-system/signed', () => fluxEvent(), signed, 404],
    [
      'an Alertmanager payload with the bearer token is accepted',
      '/hook/alertmanager/flux-system/signed',
      () =>
        JSON.stringify({
          version: '4',
          status: 'firing',
          alerts: [
            { status: 'firing', labels: { alertname: 'HighErrorRate', team: 'shop', kustomization: 'apps' }, annotations: {}, startsAt: 't', fingerprint: 'f' },
          ],
        }),
      () => ({ Authorization: `Bearer ${TOKEN}` }),
      202,
    ],
    [
      'an Alertmanager payload without the token is refused (401)',
      '/hook/alertmanager/flux-system/signed',
      () => JSON.stringify({ alerts: [] }),
      () => ({}),
      401,
    ],
    [
      'an Alertmanager payload to a policy without a token Secret is refused (403)',
      '/hook/alertmanager/flux-system/open',
      () => JSON.stringify({ alerts: [] }),
      () => ({ Authorization: 'Bearer ' }),
      403,
    ],
  ])('%s', async (_name, path, body, headers, status) => {
    const text = body();
    const response = await post(path, text, headers(text));
    expect(response.status).toBe(status);
  });

  test('a signed body over the limit is refused (413), declared or streamed', async () => {
    const big = Buffer.alloc(LIMIT + 1, 'a');
    expect((await post('/hook/flux/flux-system/signed', big, signed(big))).status).toBe(413);
    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(big));
        controller.close();
      },
    });
    const response = await fetch(`http://127.0.0.1:${receiver.port}/hook/flux/flux-system/signed`, {
      method: 'POST',
      body: chunked,
      duplex: 'half',
      headers: signed(big),
    } as RequestInit);
    expect(response.status).toBe(413);
  });

  test.each([
    ['without X-Signature: 401', '/hook/flux/flux-system/signed', {}, '401'],
    ['with a malformed X-Signature: 403', '/hook/flux/flux-system/signed', { 'X-Signature': 'sha256=zz' }, '403'],
    ['with a wrong bearer token: 403', '/hook/alertmanager/flux-system/signed', { Authorization: 'Bearer guess' }, '403'],
    ['to a policy without a token Secret: 403', '/hook/flux/flux-system/open', { 'X-Signature': `sha256=${'0'.repeat(64)}` }, '403'],
    ['to an unknown policy: 404', '/hook/flux/flux-system/nope', {}, '404'],
    ['declaring more than the limit, well-formed signature: 413', '/hook/flux/flux-system/signed', { 'X-Signature': `sha256=${'0'.repeat(64)}` }, '413'],
  ])('a request declaring a 1 MiB body is answered before any of it is sent, %s, and the connection closed', async (_name, path, headers, status) => {
    const answer = await rawRequest(receiver.port, postHead(path, 1024 * 1024, headers));
    expect(answer).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
  });

  test('GET is 405', async () => {
    expect((await fetch(`http://127.0.0.1:${receiver.port}/hook/flux/flux-system/signed`)).status).toBe(405);
  });

  test('a policy whose token Secret cannot be read refuses requests (503), never lets them through', async () => {
    lookupFails = true;
    expect((await post('/hook/flux/flux-system/signed', fluxEvent(), signed(fluxEvent()))).status).toBe(503);
  });

  test('a reason the policy does not act on, or an info event, is accepted and ignored', async () => {
    const body = fluxEvent('ReconciliationSucceeded');
    const ignored = await post('/hook/flux/flux-system/signed', body, signed(body));
    expect(ignored.status).toBe(202);
    expect(await ignored.json()).toMatchObject({ queued: 0, ignored: true });
  });

  test('duplicates are answered 202 and processed once; the legacy revision key is read; the message is one bounded line', async () => {
    const event = JSON.parse(fluxEvent('HealthCheckFailed', { 'kustomize.toolkit.fluxcd.io/revision': `main@sha1:${'9'.repeat(40)}` })) as { message: string };
    event.message = `Health check failed\n\nThis reverts commit ${'a'.repeat(40)}.\nRollback-Request: x/y/z\n${'m'.repeat(5000)}`;
    const body = JSON.stringify(event);
    const answers = await Promise.all(Array.from({ length: 20 }, () => post('/hook/flux/flux-system/signed', body, signed(body))));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
    await queue.whenIdle();
    expect(processed).toHaveLength(1);
    expect(processed[0]).toMatchObject({
      source: 'flux',
      kustomization: { name: 'apps', uid: 'k-uid' },
      revision: `main@sha1:${'9'.repeat(40)}`,
      reason: 'HealthCheckFailed',
    });
    expect(processed[0].message).not.toMatch(/[\r\n]/);
    expect(processed[0].message!.length).toBeLessThanOrEqual(256);
  });

  test('onRequest sees every request with its source and status', async () => {
    await post('/hook/flux/flux-system/signed', fluxEvent());
    await post('/hook/alertmanager/flux-system/signed', JSON.stringify({ alerts: [] }), { Authorization: `Bearer ${TOKEN}` });
    await post('/nowhere', '{}');
    expect(requests).toEqual([
      ['flux', 401],
      ['alertmanager', 202],
      ['unknown', 404],
    ]);
  });
});

describe('the webhook receiver under a connection flood', () => {
  test('connections beyond maxConnections are closed at once; the held ones are still answered, and later ones served', async () => {
    const held: (() => void)[] = [];
    const receiver = await startWebhookReceiver({
      host: '127.0.0.1',
      port: 0,
      maxConnections: 2,
      enqueue: () => 'queued',
      // Each lookup waits until released: its connection stays open meanwhile.
      loadPolicy: (_ns, name) => new Promise((resolve) => held.push(() => resolve(name === 'signed' ? policy('signed', true) : null))),
    });
    try {
      const head = postHead('/hook/flux/flux-system/nope', 2, { Connection: 'close' });
      const first = rawRequest(receiver.port, head, Buffer.from('{}'));
      const second = rawRequest(receiver.port, head, Buffer.from('{}'));
      await waitUntil(() => held.length === 2);
      // The third is dropped without an answer, while the two are still open.
      expect(await rawRequest(receiver.port, head, Buffer.from('{}'))).toBe('');
      expect(held).toHaveLength(2);
      held.splice(0).forEach((release) => release());
      expect(await first).toMatch(/^HTTP\/1.1 404 /);
      expect(await second).toMatch(/^HTTP\/1.1 404 /);
      const later = rawRequest(receiver.port, head, Buffer.from('{}'));
      await waitUntil(() => held.length === 1);
      held.splice(0).forEach((release) => release());
      expect(await later).toMatch(/^HTTP\/1.1 404 /);
    } finally {
      held.forEach((release) => release());
      await receiver.close();
    }
  });
});

/** Waits for a condition the test itself drives (see eventually()). */
async function waitUntil(condition: () => boolean): Promise<void> {
  await eventually('the receiver to reach the expected state', condition, { timeoutMs: 5000, intervalMs: 1 });
}
