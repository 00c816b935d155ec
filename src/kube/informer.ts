// A list-then-watch cache of one resource collection, written on client-node's Watch because
// its own informer reconnects in a tight loop and sets no watch timeout. Behaviour, after
// client-go's reflector:
//   - LIST (paginated) fills the cache and emits only differences from what was cached before
//     (so a relist after an outage does not replay every object);
//   - WATCH resumes from the last resourceVersion seen (events and BOOKMARKs), with
//     timeoutSeconds so the server ends each watch and we renew it;
//   - a dropped watch is re-opened from that resourceVersion after a jittered exponential
//     backoff (reset after a healthy watch); 410 Gone means history is compacted: relist.
// Errors are logged, never thrown from the loop, and every retry waits: no tight loop.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { backoffDelay, sleep } from '../retry-timing.js';
import { describeKubeError, getJson, statusCodeOf } from './client.js';
import { CodedError } from '../coded-error.js';

/**
 * What the informer needs of an object. Objects are the API's JSON as received (timestamps are
 * strings), so this is deliberately looser than client-node's `InformerObject`, which it accepts.
 */
export interface InformerObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** The event types an informer reports. */
export type InformerEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** Retry delays of the list/watch loop. */
export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  initialMs?: number;
  /** Upper bound. Default 30 000 ms. */
  maxMs?: number;
}

/** Options of {@link Informer}. */
export interface InformerOptions<T extends InformerObject> {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. `/apis/rollback.gitops.dev/v1alpha1/gitopsrollbacks` or `/api/v1/namespaces/x/configmaps`. */
  path: string;
  /** Called for each change. Keep it cheap (enqueue a key): it runs on the watch stream. */
  onEvent: (type: InformerEventType, object: T) => void;
  /** Server-side watch timeout; the watch is renewed after it. Default 300 s. */
  watchTimeoutSeconds?: number;
  backoff?: BackoffOptions;
  /** If set, re-emits MODIFIED for every cached object this often. Default off. */
  resyncMs?: number;
  /** Page size of LIST requests. Default 500. */
  pageSize?: number;
  labelSelector?: string;
  fieldSelector?: string;
  logger?: Logger;
  /**
   * Shapes each object before it is cached and handed to onEvent (keep only what is read).
   * Default: drop metadata.managedFields and the last-applied-configuration annotation.
   */
  transform?: (object: T) => T;
}

/** Thrown by `start()` when the informer is stopped before its first list completed. */
export class InformerStoppedError extends CodedError {
  readonly code = 'InformerStoppedError' as const;
  constructor() {
    super('Informer stopped before it synced');
  }
}

/** A LIST response. */
interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

/** How one watch ended. */
interface WatchOutcome {
  /** The server said our resourceVersion is too old (410): relist. */
  gone: boolean;
  /** The watch was established and ran long enough, or delivered events. */
  healthy: boolean;
  error?: unknown;
}

/** A watch that lived this long counts as healthy even if it saw no events. */
const HEALTHY_WATCH_MS = 5_000;
/** A LIST taking longer than this is abandoned and retried. */
const LIST_TIMEOUT_MS = 60_000;

/**
 * Keeps an in-memory copy of a collection up to date and reports changes.
 * `start()` resolves after the first LIST (the cache is synced); `stop()` ends everything.
 */
export class Informer<T extends InformerObject> {
  private readonly options: InformerOptions<T>;
  private readonly logger: Logger | undefined;
  private readonly watcher: Watch;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly cache = new Map<string, T>();
  private readonly stopping = new AbortController();
  private resourceVersion: string | undefined;
  private failures = 0;
  private synced = false;
  private loop: Promise<void> | undefined;
  private syncPromise: Promise<void> | undefined;
  private currentWatch: AbortController | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private markSynced: (() => void) | undefined;
  private failSync: ((error: Error) => void) | undefined;

  constructor(options: InformerOptions<T>) {
    this.options = options;
    this.logger = options.logger?.child({ informer: options.path });
    this.initialBackoffMs = options.backoff?.initialMs ?? 500;
    this.maxBackoffMs = options.backoff?.maxMs ?? 30_000;
    this.watcher = new Watch(options.kubeConfig);
    // Watch's inactivity timeout (30 s by default) would cut quiet watches short; the server
    // ends each watch after timeoutSeconds, so only a dead connection outlives this.
    Object.assign(this.watcher, { requestTimeoutMs: (this.watchTimeoutSeconds + 30) * 1000 });
  }

  /** Whether the first LIST has completed. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /** The last resourceVersion seen (from a LIST, an event or a BOOKMARK). */
  get lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  /** The cached object, if any. Pass '' as namespace for cluster-scoped objects. */
  get(namespace: string, name: string): T | undefined {
    return this.cache.get(formatKey(namespace, name));
  }

  /** All cached objects. */
  list(): T[] {
    return [...this.cache.values()];
  }

  /** Starts listing and watching; resolves once the cache has synced. Idempotent. */
  start(): Promise<void> {
    this.syncPromise ??= new Promise((resolve, reject) => {
      this.markSynced = resolve;
      this.failSync = reject;
    });
    this.loop ??= this.runLoop();
    return this.syncPromise;
  }

  /**
   * Stops watching and resolves when no request or timer of ours is pending. A `start()` still
   * waiting for the first list rejects with {@link InformerStoppedError}.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.currentWatch?.abort();
    clearInterval(this.resyncTimer);
    if (!this.synced) this.failSync?.(new InformerStoppedError());
    await this.loop;
  }

  private transform(object: T): T {
    return (this.options.transform ?? stripServerFields)(object);
  }

  private get watchTimeoutSeconds(): number {
    return this.options.watchTimeoutSeconds ?? 300;
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** LIST when needed, then WATCH, forever; every failure waits a backoff delay. */
  private async runLoop(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      if (needList) {
        const listed = await this.tryRelist();
        if (!listed) {
          await this.waitBackoff();
          continue;
        }
        needList = false;
      }
      const outcome = await this.watchOnce();
      if (this.stopped) break;
      needList = outcome.gone;
      this.logWatchEnd(outcome);
      if (outcome.healthy) this.failures = 0;
      await this.waitBackoff();
    }
  }

  /** Lists and reconciles the cache; returns false (after logging) on failure. */
  private async tryRelist(): Promise<boolean> {
    try {
      const { items, resourceVersion } = await this.listAll();
      if (this.stopped) return false;
      this.replaceCache(items);
      this.resourceVersion = resourceVersion;
      this.completeSync();
      return true;
    } catch (error) {
      if (!this.stopped) this.logger?.warn({ err: describeKubeError(error), failures: this.failures + 1 }, 'List failed; retrying');
      return false;
    }
  }

  /** LISTs every page; if a continue token expires mid-way, lists again in one request. */
  private async listAll(): Promise<{ items: T[]; resourceVersion: string | undefined }> {
    try {
      return await this.listPages(this.options.pageSize ?? 500);
    } catch (error) {
      if (statusCodeOf(error) !== 410) throw error;
      this.logger?.info('List continue token expired; listing without pagination');
      return await this.listPages(undefined);
    }
  }

  /** LISTs page by page (limit/continue) and returns the items and the list's resourceVersion. */
  private async listPages(limit: number | undefined): Promise<{ items: T[]; resourceVersion: string | undefined }> {
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(LIST_TIMEOUT_MS)]);
      const query = { limit, continue: token, labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector };
      const page = await getJson<ObjectList<T>>(this.options.kubeConfig, this.options.path, { query, signal });
      items.push(...(page.items ?? []).map((item) => this.transform(fillTypeMeta(item, page))));
      resourceVersion = page.metadata?.resourceVersion;
      token = page.metadata?.continue || undefined;
    } while (token);
    return { items, resourceVersion };
  }

  /** Swaps in the listed objects and emits only what changed since the cache was last filled. */
  private replaceCache(items: T[]): void {
    const previous = new Map(this.cache);
    this.cache.clear();
    for (const item of items) this.cache.set(keyOf(item), item);
    const changes: [InformerEventType, T][] = [];
    for (const [key, item] of this.cache) {
      const old = previous.get(key);
      if (!old) changes.push(['ADDED', item]);
      else if (old.metadata?.uid !== item.metadata?.uid) changes.push(['DELETED', old], ['ADDED', item]);
      else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion) changes.push(['MODIFIED', item]);
    }
    for (const [key, old] of previous) if (!this.cache.has(key)) changes.push(['DELETED', old]);
    for (const [type, object] of changes) this.emit(type, object);
    this.logger?.debug({ objects: this.cache.size, changes: changes.length }, 'Listed');
  }

  /** Resolves `start()` and arms the resync timer, once. */
  private completeSync(): void {
    if (this.synced) return;
    this.synced = true;
    this.markSynced?.();
    if (this.options.resyncMs) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** Re-emits MODIFIED for every cached object (periodic resync). */
  private resync(): void {
    for (const object of this.cache.values()) this.emit('MODIFIED', object);
  }

  /** Runs one watch from the last resourceVersion until it ends. Never rejects. */
  private watchOnce(): Promise<WatchOutcome> {
    return new Promise((resolve) => {
      const startedAt = Date.now();
      let gone = false;
      let events = 0;
      let settled = false;
      const finish = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        this.stopping.signal.removeEventListener('abort', onStop);
        gone ||= statusCodeOf(error) === 410;
        const healthy = !gone && (events > 0 || Date.now() - startedAt >= HEALTHY_WATCH_MS);
        resolve({ gone, healthy, error: error ?? undefined });
      };
      const onStop = (): void => finish();
      this.stopping.signal.addEventListener('abort', onStop, { once: true });
      const onWatchEvent = (phase: string, object: unknown): void => {
        events++;
        if (this.handleWatchEvent(phase, object) === 'gone') {
          gone = true;
          this.currentWatch?.abort();
        }
      };
      const query = {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.watchTimeoutSeconds,
        labelSelector: this.options.labelSelector,
        fieldSelector: this.options.fieldSelector,
      };
      this.watcher
        .watch(this.options.path, query, onWatchEvent, (error: unknown) => finish(error))
        .then((controller) => {
          this.currentWatch = controller;
          // Stopped while connecting, or ended by a 410 before we had the controller.
          if (settled || this.stopped) controller.abort();
        })
        .catch((error: unknown) => finish(error));
    });
  }

  /** Applies one watch event to the cache. Returns 'gone' on a 410 ERROR event. */
  private handleWatchEvent(phase: string, object: unknown): 'gone' | undefined {
    if (phase === 'ERROR') return this.handleErrorEvent(object);
    const item = object as T;
    const version = item?.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    if (phase === 'BOOKMARK') return undefined;
    if (phase === 'ADDED' || phase === 'MODIFIED') this.applyUpsert(this.transform(item));
    else if (phase === 'DELETED') this.applyDelete(this.transform(item));
    return undefined;
  }

  /** An ERROR event carries a metav1.Status; 410 means our resourceVersion is compacted away. */
  private handleErrorEvent(object: unknown): 'gone' | undefined {
    const status = object as { code?: number; reason?: string; message?: string } | undefined;
    if (status?.code === 410) return 'gone';
    this.logger?.warn({ code: status?.code, reason: status?.reason, message: status?.message }, 'Watch reported an error');
    return undefined;
  }

  /** Caches an added or modified object; skips exact repeats of what is cached. */
  private applyUpsert(item: T): void {
    const key = keyOf(item);
    const old = this.cache.get(key);
    if (old && old.metadata?.uid === item.metadata?.uid && old.metadata?.resourceVersion === item.metadata?.resourceVersion) return;
    this.cache.set(key, item);
    this.emit(old ? 'MODIFIED' : 'ADDED', item);
  }

  /** Drops a deleted object; reports it only if it was cached (so each deletion is seen once). */
  private applyDelete(item: T): void {
    const key = keyOf(item);
    if (!this.cache.delete(key)) return;
    this.emit('DELETED', item);
  }

  /** Calls the handler; a throwing handler is logged, not allowed to kill the watch. */
  private emit(type: InformerEventType, object: T): void {
    try {
      this.options.onEvent(type, object);
    } catch (error) {
      this.logger?.error({ err: describeKubeError(error), type, object: keyOf(object) }, 'Informer event handler failed');
    }
  }

  /** Logs why a watch ended, at a level matching how unusual it is. */
  private logWatchEnd(outcome: WatchOutcome): void {
    if (outcome.gone) this.logger?.info({ resourceVersion: this.resourceVersion }, 'Watch expired (410); relisting');
    else if (outcome.error) this.logger?.warn({ err: describeKubeError(outcome.error), failures: this.failures + 1 }, 'Watch failed; re-watching');
    else this.logger?.debug('Watch closed; re-watching');
  }

  /** Sleeps the next backoff delay: initial * 2^failures, capped, with jitter. */
  private async waitBackoff(): Promise<void> {
    this.failures++;
    // Equal jitter: replicas restarted together do not retry in step.
    await sleep(backoffDelay({ baseMs: this.initialBackoffMs, maxMs: this.maxBackoffMs, jitter: true }, this.failures), this.stopping.signal);
  }
}

/** The cache key of an object: `namespace/name`, or `name` when cluster-scoped. */
function keyOf(object: InformerObject): string {
  return formatKey(object.metadata?.namespace ?? '', object.metadata?.name ?? '');
}

function formatKey(namespace: string, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** LIST items of built-in types lack apiVersion/kind; take them from the list. */
function fillTypeMeta<T extends InformerObject>(item: T, list: ObjectList<T>): T {
  if (item.apiVersion && item.kind) return item;
  return { ...item, apiVersion: item.apiVersion ?? list.apiVersion, kind: item.kind ?? list.kind?.replace(/List$/, '') };
}

/** The last-applied-configuration annotation kubectl writes: a second copy of the whole object. */
const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** The object without metadata.managedFields and the last-applied annotation (never read by us). */
export function stripServerFields<T extends InformerObject>(object: T): T {
  const metadata = object.metadata as (InformerObject['metadata'] & { managedFields?: unknown; annotations?: Record<string, string> }) | undefined;
  if (!metadata || (metadata.managedFields === undefined && metadata.annotations?.[LAST_APPLIED_ANNOTATION] === undefined)) return object;
  const { managedFields: _managedFields, ...rest } = metadata;
  const annotations = rest.annotations && Object.fromEntries(Object.entries(rest.annotations).filter(([key]) => key !== LAST_APPLIED_ANNOTATION));
  return { ...object, metadata: { ...rest, ...(annotations ? { annotations } : {}) } };
}
