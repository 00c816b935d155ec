/**
 * The HTTP receiver for automated rollback triggers (node:http, its own port):
 *
 *   POST /hook/flux/<namespace>/<policy>          Flux notification-controller, Provider type
 *                                                 generic-hmac (X-Signature)
 *   POST /hook/alertmanager/<namespace>/<policy>  Prometheus Alertmanager webhook (Bearer token)
 *
 * It fails closed, and spends nothing on a caller before it has to: each request is checked in
 * order — route (404/405), policy (404; 403 when it names no token Secret), credentials header
 * (401 missing, 403 wrong or malformed), and only then the body, read up to a small limit (413)
 * and, for Flux, its HMAC verified (403); then JSON and shape (400). An answer given before the
 * body is read closes the connection, so an unauthenticated body is never buffered. Connections
 * are capped and slow ones timed out. Triggers are queued and answered 202 at once: the decision
 * to roll back is taken later by the queue's processor, never on the request's time.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_TRIGGER_REASONS, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import { mapAlertsToTriggers, parseAlertmanagerPayload } from './alertmanager-payload.js';
import { InvalidPayloadError, parseFluxEvent } from './flux-event.js';
import { parseSignatureHeader, verifyBearerToken, verifyHmacSignature, type SignatureHeader } from './signature.js';
import type { AddResult } from './trigger-queue.js';
import type { Trigger, TriggerSource } from './trigger.js';

/**
 * A policy and the token its requests must prove. `token` is undefined when the policy names no
 * Secret (stored before `secretRef` was required): then every request is refused.
 */
export interface PolicyAccess {
  policy: GitOpsRollbackPolicy;
  token: string | undefined;
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
  /** Largest body accepted, in bytes (413 beyond). Default {@link DEFAULT_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /** Connections open at once; more are closed at once. Default {@link DEFAULT_MAX_CONNECTIONS}. */
  maxConnections?: number;
  /** Time a client has to send its headers, and its whole request. Defaults 10 s and 30 s. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Called once per request with its answer, e.g. to count requests in metrics. */
  onRequest?(source: TriggerSource | 'unknown', statusCode: number): void;
  logger?: ReceiverLogger;
}

export interface WebhookReceiver {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * 64 KiB: a Flux event is a few KiB (its message is cut to one line anyway); Alertmanager groups
 * above it are refused, so set `max_alerts` on the receiver's webhook_config.
 */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
/**
 * With the body limit: at most 128 x 64 KiB = 8 MiB of request bodies held at once. Flux's and
 * Alertmanager's senders retry a refused connection.
 */
export const DEFAULT_MAX_CONNECTIONS = 128;
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
        // A body not read (or not read whole) is not read at all: the connection ends with the answer.
        const close = req.complete ? {} : { Connection: 'close' };
        res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...close });
        res.end(body);
        options.onRequest?.(source, reply.status);
      });
  });
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  // Slow clients cannot hold connections open for long.
  server.headersTimeout = options.headersTimeoutMs ?? 10_000;
  server.requestTimeout = options.requestTimeoutMs ?? 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function sourceOf(url: string | undefined): TriggerSource | 'unknown' {
  const match = PATH.exec((url ?? '').split('?')[0]);
  return match ? (match[1] as TriggerSource) : 'unknown';
}

const refuse = (status: number, error: string): Reply => ({ status, body: { error } });

async function handleRequest(req: http.IncomingMessage, options: WebhookReceiverOptions): Promise<Reply> {
  const match = PATH.exec((req.url ?? '').split('?')[0]);
  if (!match) return refuse(404, 'not found');
  if (req.method !== 'POST') return refuse(405, 'use POST');
  const [, source, namespace, , name] = match as unknown as [string, TriggerSource, string, string, string];

  const access = await options.loadPolicy(namespace, name);
  if (!access) return refuse(404, `no GitOpsRollbackPolicy ${namespace}/${name}`);
  if (access.token === undefined) return refuse(403, `GitOpsRollbackPolicy ${namespace}/${name} names no secretRef; unauthenticated requests are refused`);
  const { token } = access;

  // Credentials before the body: the Bearer token whole, the HMAC's header form.
  let signature: SignatureHeader | undefined;
  if (source === 'flux') {
    const parsed = parseSignatureHeader(header(req, 'x-signature'));
    if (parsed === 'missing') return refuse(401, 'X-Signature required');
    if (parsed === 'invalid') return refuse(403, 'invalid credentials');
    signature = parsed;
  } else {
    const verification = verifyBearerToken(header(req, 'authorization'), token);
    if (verification === 'missing') return refuse(401, 'Authorization required');
    if (verification === 'invalid') return refuse(403, 'invalid credentials');
  }

  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const raw = await readBody(req, maxBytes);
  if (!raw) return refuse(413, `body larger than ${maxBytes} bytes`);
  if (signature && verifyHmacSignature(raw, signature, token) !== 'valid') return refuse(403, 'invalid credentials');

  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return refuse(400, 'the body is not JSON');
  }
  let triggers: Trigger[];
  try {
    triggers = source === 'flux' ? fluxTriggers(json, access.policy) : mapAlertsToTriggers(parseAlertmanagerPayload(json), access.policy);
  } catch (error) {
    if (error instanceof InvalidPayloadError) return refuse(400, error.message);
    throw error;
  }

  const results = triggers.map((trigger) => options.enqueue(trigger));
  if (results.includes('full')) return refuse(503, 'queue full; retry later');
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
  return [
    {
      source: 'flux',
      policy: { namespace: policy.metadata.namespace!, name: policy.metadata.name! },
      kustomization: { namespace, name, uid },
      revision: event.revision,
      reason: event.reason,
      message: event.message,
    },
  ];
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The body, or null when it exceeds `maxBytes` (declared or actual). At most `maxBytes` are held:
 * reading stops at the limit, and the answer closes the connection.
 */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      resolve(null);
    };
    req.on('data', onData);
    req.on('end', () => resolve(size <= maxBytes ? Buffer.concat(chunks) : null));
    req.on('error', reject);
  });
}
