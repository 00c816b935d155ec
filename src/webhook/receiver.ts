/**
 * The HTTP receiver for automated rollback triggers (node:http, its own port):
 *
 *   POST /hook/flux/<namespace>/<policy>          Flux notification-controller, Provider type
 *                                                 generic or generic-hmac (X-Signature)
 *   POST /hook/alertmanager/<namespace>/<policy>  Prometheus Alertmanager webhook (Bearer token)
 *
 * Each request is checked (size 413, policy 404, credentials 401/403 when the policy names a
 * token Secret, JSON and shape 400), turned into triggers, queued, and answered 202 at once: the
 * decision to roll back is taken later by the queue's processor, never on the request's time.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_TRIGGER_REASONS, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import { mapAlertsToTriggers, parseAlertmanagerPayload } from './alertmanager-payload.js';
import { InvalidPayloadError, parseFluxEvent } from './flux-event.js';
import { verifyBearerToken, verifyHmacSignature, type Verification } from './signature.js';
import type { AddResult } from './trigger-queue.js';
import type { Trigger, TriggerSource } from './trigger.js';

/** A policy and the token its requests must prove (none when it names no Secret). */
export interface PolicyAccess {
  policy: GitOpsRollbackPolicy;
  token?: string;
}

export interface ReceiverLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface WebhookReceiverOptions {
  /** Listen address; port 0 picks a free port. */
  host?: string;
  port: number;
  /**
   * The policy named in the path with its token; null when there is no such policy. Throws when
   * the policy names a token Secret that cannot be read: the request is refused (503), never let
   * through unauthenticated.
   */
  loadPolicy(namespace: string, name: string): Promise<PolicyAccess | null>;
  enqueue(trigger: Trigger): AddResult;
  /** Largest body accepted, in bytes (413 beyond). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Called once per request with its answer, e.g. to count requests in metrics. */
  onRequest?(source: TriggerSource | 'unknown', statusCode: number): void;
  logger?: ReceiverLogger;
}

export interface WebhookReceiver {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const PATH = /^\/hook\/(flux|alertmanager)\/([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?)\/?$/;

/** An answer: status code and a small JSON body. */
interface Reply {
  status: number;
  body: Record<string, unknown>;
}

/** Starts the receiver; resolves once it listens. */
export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const server = http.createServer((req, res) => {
    const source = sourceOf(req.url);
    void handleRequest(req, options)
      .catch((error: unknown): Reply => {
        options.logger?.warn({ err: (error as Error).message, source }, 'Webhook request failed');
        return { status: 503, body: { error: 'temporarily unavailable' } };
      })
      .then((reply) => {
        const body = JSON.stringify(reply.body);
        const close = reply.status === 413 ? { Connection: 'close' } : {};
        res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...close });
        res.end(body);
        options.onRequest?.(source, reply.status);
      });
  });
  // Slow clients cannot hold connections open for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function sourceOf(url: string | undefined): TriggerSource | 'unknown' {
  const match = PATH.exec((url ?? '').split('?')[0]);
  return match ? (match[1] as TriggerSource) : 'unknown';
}

async function handleRequest(req: http.IncomingMessage, options: WebhookReceiverOptions): Promise<Reply> {
  const match = PATH.exec((req.url ?? '').split('?')[0]);
  if (!match) return drainAnd(req, { status: 404, body: { error: 'not found' } });
  if (req.method !== 'POST') return drainAnd(req, { status: 405, body: { error: 'use POST' } });
  const [, source, namespace, , name] = match as unknown as [string, TriggerSource, string, string, string];

  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const raw = await readBody(req, maxBytes);
  if (!raw) return { status: 413, body: { error: `body larger than ${maxBytes} bytes` } };

  const access = await options.loadPolicy(namespace, name);
  if (!access) return { status: 404, body: { error: `no GitOpsRollbackPolicy ${namespace}/${name}` } };
  if (access.token !== undefined) {
    const verification: Verification = source === 'flux'
      ? verifyHmacSignature(raw, header(req, 'x-signature'), access.token)
      : verifyBearerToken(header(req, 'authorization'), access.token);
    if (verification === 'missing') return { status: 401, body: { error: source === 'flux' ? 'X-Signature required' : 'Authorization required' } };
    if (verification === 'invalid') return { status: 403, body: { error: 'invalid credentials' } };
  }

  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return { status: 400, body: { error: 'the body is not JSON' } };
  }
  let triggers: Trigger[];
  try {
    triggers = source === 'flux' ? fluxTriggers(json, access.policy) : mapAlertsToTriggers(parseAlertmanagerPayload(json), access.policy);
  } catch (error) {
    if (error instanceof InvalidPayloadError) return { status: 400, body: { error: error.message } };
    throw error;
  }

  const results = triggers.map((trigger) => options.enqueue(trigger));
  if (results.includes('full')) return { status: 503, body: { error: 'queue full; retry later' } };
  const queued = results.filter((r) => r === 'queued').length;
  if (queued) options.logger?.info({ policy: `${namespace}/${name}`, source, queued }, 'Queued rollback trigger');
  return { status: 202, body: { queued, duplicates: results.length - queued, ignored: triggers.length === 0 } };
}

/** The trigger of a Flux event, or none for events the policy does not act on. */
function fluxTriggers(json: unknown, policy: GitOpsRollbackPolicy): Trigger[] {
  const event = parseFluxEvent(json);
  const reasons = policy.spec.reasons ?? DEFAULT_TRIGGER_REASONS;
  if (event.involvedObject.kind !== 'Kustomization' || event.severity === 'info' || !reasons.includes(event.reason)) return [];
  const { namespace, name, uid } = event.involvedObject;
  return [{
    source: 'flux',
    policy: { namespace: policy.metadata.namespace!, name: policy.metadata.name! },
    kustomization: { namespace, name, uid },
    revision: event.revision,
    reason: event.reason,
    message: event.message,
  }];
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The body, or null when it exceeds `maxBytes` (declared or actual). An oversized body is not
 * kept; reading stops and the connection is closed after the answer.
 */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    req.resume();
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      else chunks.push(chunk);
      // Far beyond the limit: stop reading altogether.
      if (size > maxBytes * 4) {
        req.destroy();
        resolve(null);
      }
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function drainAnd(req: http.IncomingMessage, reply: Reply): Reply {
  req.resume();
  return reply;
}
