// Kubernetes Events for the objects we reconcile, in the core/v1 shape that `kubectl describe`
// and `kubectl events` show (type, reason, source.component, first/last timestamp, count).
// Repeats of the same event are aggregated by patching `count`/`lastTimestamp`, as client-go's
// recorder does, so a retry loop cannot flood etcd with Events.
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createApiClient, describeKubeError, statusCodeOf } from './client.js';

/** The object an event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** Event type, as `kubectl` shows it. */
export type EventType = 'Normal' | 'Warning';

/** Optional settings of {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** Which replica reported it (source.host / reportingInstance), e.g. the pod name. */
  instance?: string;
  /** Repeats within this window update one Event instead of creating another. Default 10 min. */
  aggregationWindowMs?: number;
  /** How many distinct events to remember for aggregation. Default 4096. */
  cacheSize?: number;
}

/** The API's limit on an Event message, in bytes. */
export const MAX_MESSAGE_BYTES = 1024;

const REQUEST_TIMEOUT_MS = 10_000;

/** What the recorder remembers about an Event it wrote. */
interface RecordedEvent {
  name: string;
  namespace: string;
  count: number;
  lastSeenMs: number;
}

/**
 * Records core/v1 Events. `record` never throws: failing to write an Event is logged and the
 * reconcile goes on. Identical events (same object, type, reason, message) within the
 * aggregation window increase `count` on one Event.
 */
export class EventRecorder {
  private readonly api: CoreV1Api;
  private readonly component: string;
  private readonly instance: string | undefined;
  private readonly logger: Logger | undefined;
  private readonly windowMs: number;
  private readonly cacheSize: number;
  private readonly recorded = new Map<string, RecordedEvent>();
  /** Serializes writes of one aggregation key, so concurrent repeats patch instead of racing. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private sequence = 0;

  /**
   * @param component shown as FROM by `kubectl describe` (source.component), e.g.
   *   `gitops-rollback-controller`
   * @param logger where failures to write an Event are reported
   */
  constructor(kubeConfig: KubeConfig, component: string, logger?: Logger, options: EventRecorderOptions = {}) {
    this.api = createApiClient(kubeConfig, CoreV1Api, { timeoutMs: REQUEST_TIMEOUT_MS });
    this.component = component;
    this.instance = options.instance;
    this.logger = logger;
    this.windowMs = options.aggregationWindowMs ?? 10 * 60_000;
    this.cacheSize = options.cacheSize ?? 4096;
  }

  /** Records an event about `subject`. Resolves when written (or given up on); never rejects. */
  record(subject: EventSubject, type: EventType, reason: string, message: string): Promise<void> {
    const text = truncateMessage(message);
    const key = computeAggregationKey(subject, type, reason, text);
    const previous = this.inFlight.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.writeEvent(key, subject, type, reason, text)).catch((error: unknown) => this.logFailure(subject, reason, error));
    this.inFlight.set(key, next);
    void next.then(() => {
      if (this.inFlight.get(key) === next) this.inFlight.delete(key);
    });
    return next;
  }

  /** Patches the remembered Event if it is recent, else creates a new one. */
  private async writeEvent(key: string, subject: EventSubject, type: EventType, reason: string, message: string): Promise<void> {
    const now = Date.now();
    const previous = this.recorded.get(key);
    if (previous && now - previous.lastSeenMs < this.windowMs) {
      const patched = await this.patchCount(previous, now);
      if (patched) return;
    }
    const created = await this.createEvent(subject, type, reason, message, now);
    this.remember(key, created);
  }

  /** Bumps count and lastTimestamp; returns false if the Event is gone (expired by TTL). */
  private async patchCount(event: RecordedEvent, now: number): Promise<boolean> {
    const count = event.count + 1;
    const body = [
      { op: 'replace', path: '/count', value: count },
      { op: 'replace', path: '/lastTimestamp', value: new Date(now).toISOString() },
    ];
    try {
      await this.api.patchNamespacedEvent({ name: event.name, namespace: event.namespace, body });
    } catch (error) {
      if (statusCodeOf(error) === 404) return false;
      throw error;
    }
    event.count = count;
    event.lastSeenMs = now;
    return true;
  }

  /** Creates a new Event with count 1. */
  private async createEvent(subject: EventSubject, type: EventType, reason: string, message: string, now: number): Promise<RecordedEvent> {
    const namespace = subject.metadata.namespace || 'default';
    const name = `${subject.metadata.name ?? 'unknown'}.${this.makeNameSuffix(now)}`;
    const timestamp = new Date(now);
    const body: CoreV1Event = {
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: subject.apiVersion,
        kind: subject.kind,
        name: subject.metadata.name,
        namespace: subject.metadata.namespace,
        uid: subject.metadata.uid,
        resourceVersion: subject.metadata.resourceVersion,
      },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: timestamp,
      lastTimestamp: timestamp,
      source: { component: this.component, host: this.instance },
      reportingComponent: this.component,
      reportingInstance: this.instance,
    };
    await this.api.createNamespacedEvent({ namespace, body });
    return { name, namespace, count: 1, lastSeenMs: now };
  }

  /** Returns a unique hex suffix, like client-go's `<name>.<unix nanos in hex>`. */
  private makeNameSuffix(now: number): string {
    this.sequence = (this.sequence + 1) % 1_000_000;
    return (BigInt(now) * 1_000_000n + BigInt(this.sequence)).toString(16);
  }

  /** Remembers an Event for aggregation, evicting the oldest past the cache size. */
  private remember(key: string, event: RecordedEvent): void {
    this.recorded.delete(key);
    this.recorded.set(key, event);
    while (this.recorded.size > this.cacheSize) {
      const oldest = this.recorded.keys().next().value as string;
      this.recorded.delete(oldest);
    }
  }

  /** Logs a failed write; Events are best effort. */
  private logFailure(subject: EventSubject, reason: string, error: unknown): void {
    const object = `${subject.metadata.namespace ?? ''}/${subject.metadata.name ?? ''}`;
    this.logger?.warn({ object, kind: subject.kind, reason, err: describeKubeError(error) }, 'Failed to record event');
  }
}

/** Identifies "the same event": same object, type, reason and message. */
function computeAggregationKey(subject: EventSubject, type: EventType, reason: string, message: string): string {
  const object = subject.metadata.uid || `${subject.kind}/${subject.metadata.namespace}/${subject.metadata.name}`;
  return JSON.stringify([object, type, reason, message]);
}

/** Cuts a message to the API's byte limit, marking the cut with an ellipsis. */
export function truncateMessage(message: string): string {
  if (Buffer.byteLength(message) <= MAX_MESSAGE_BYTES) return message;
  const ellipsis = '...';
  const budget = MAX_MESSAGE_BYTES - ellipsis.length;
  let cut = '';
  let bytes = 0;
  // Iterate code points so a multi-byte character is never split.
  for (const char of message) {
    const size = Buffer.byteLength(char);
    if (bytes + size > budget) break;
    cut += char;
    bytes += size;
  }
  return cut + ellipsis;
}
