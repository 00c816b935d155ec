/**
 * Keeps the git cache warm before the incident: at start and then every interval, fetches the
 * repositories of the GitRepositories the policies cover (and those a label selects) into the
 * engine's cache, so the first rollback of a repository fetches only what changed instead of
 * cloning while someone waits. Shaped like a controller-runtime Runnable with a periodic loop
 * (wait.Until): one pass at a time, the next one an interval after the previous ended.
 *
 * Bounded like a rollback: one repository at a time, each fetch in an engine worker process with
 * the rollback's network policy, limits, deadline and repository lock (the port's `fetch`). A
 * failure is logged without credentials, counted, and the pass moves on; nothing here throws out
 * of the loop. A rollback that needs a repository being prefetched waits for the repository lock
 * as it would for another rollback, and then finds the cache warm.
 */
import type { Logger } from 'pino';
import type { ObjectKey } from '../flux/flux-port.js';
import type { RepositoryTarget } from '../git/engine.js';
import { redactUrl } from '../git/errors.js';
import { sleep } from '../retry-timing.js';
import type { PrefetchSelection } from './prefetch-selection.js';

/** Default --cache-prefetch-interval. */
export const DEFAULT_PREFETCH_INTERVAL_MS = 10 * 60_000;

/** What the prefetcher needs from the outside world; faked in unit tests. */
export interface PrefetchPort {
  /** The GitRepositories to fetch in this pass (listed and selected: ./prefetch-selection.ts). */
  selectSources(): Promise<PrefetchSelection>;
  /** URL, branch and credentials of a GitRepository, resolved as for a rollback. */
  resolve(source: ObjectKey): Promise<RepositoryTarget>;
  /** Fetches the branch into the cache (aborted by `signal`); resolves with its head. */
  fetch(target: RepositoryTarget, signal: AbortSignal): Promise<string>;
}

/** One repository's outcome, for metrics. */
export interface PrefetchOutcome {
  source: ObjectKey;
  /** The repository URL without credentials; undefined when resolving failed. */
  url?: string;
  result: 'succeeded' | 'failed';
  /** The typed error's code on failure. */
  error?: string;
  durationMs: number;
}

export interface PassSummary {
  selected: number;
  dropped: number;
  succeeded: number;
  failed: number;
  /** Same URL and branch as one already fetched in this pass. */
  duplicates: number;
}

export interface CachePrefetcherOptions {
  port: PrefetchPort;
  intervalMs: number;
  logger: Logger;
  /** Told each repository's outcome (metrics). */
  onOutcome?: (outcome: PrefetchOutcome) => void;
  /** Told when a pass could not list its sources (metrics). */
  onSelectFailed?: (error: unknown) => void;
  /** Test seam: the wait between passes. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
}

export class CachePrefetcher {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: CachePrefetcherOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Starts the loop (a pass now, then one an interval after each pass ends); returns at once. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops the loop: a fetch in flight is aborted (its worker killed; the cache keeps what it had). */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('The operator is stopping'));
    await this.loop;
  }

  private async run(): Promise<void> {
    const wait = this.options.sleep ?? sleep;
    const { signal } = this.stopping;
    while (!signal.aborted) {
      await this.runPass(signal);
      if (signal.aborted) break;
      await wait(this.options.intervalMs, signal);
    }
  }

  /** One pass over the selected repositories, one at a time. Never rejects. */
  async runPass(signal: AbortSignal = this.stopping.signal): Promise<PassSummary> {
    const log = this.options.logger;
    const summary: PassSummary = { selected: 0, dropped: 0, succeeded: 0, failed: 0, duplicates: 0 };
    const started = this.now();
    let selection: PrefetchSelection;
    try {
      selection = await this.options.port.selectSources();
    } catch (error) {
      this.options.onSelectFailed?.(error);
      log.warn({ err: (error as Error).message }, 'Cache prefetch could not list its repositories; trying again next pass');
      return summary;
    }
    summary.selected = selection.sources.length;
    summary.dropped = selection.dropped;
    if (selection.dropped > 0)
      log.warn({ dropped: selection.dropped, fetched: selection.sources.length }, 'Cache prefetch: more repositories than one pass fetches');
    const fetched = new Set<string>();
    for (const source of selection.sources) {
      if (signal.aborted) break;
      const outcome = await this.prefetchOne(source, fetched, signal);
      if (outcome === 'duplicate') summary.duplicates++;
      else if (outcome === 'succeeded') summary.succeeded++;
      else if (outcome === 'failed') summary.failed++;
    }
    log.info({ ...summary, durationMs: this.now() - started }, 'Cache prefetch pass finished');
    return summary;
  }

  private async prefetchOne(source: ObjectKey, fetched: Set<string>, signal: AbortSignal): Promise<'succeeded' | 'failed' | 'duplicate' | 'aborted'> {
    const gitRepository = `${source.namespace}/${source.name}`;
    const started = this.now();
    let target: RepositoryTarget | undefined;
    try {
      target = await this.options.port.resolve(source);
      const key = `${redactUrl(target.url)} ${target.branch}`;
      if (fetched.has(key)) return 'duplicate';
      await this.options.port.fetch(target, signal);
      fetched.add(key);
      this.report({ source, url: redactUrl(target.url), result: 'succeeded', durationMs: this.now() - started });
      this.options.logger.debug({ gitRepository, repository: redactUrl(target.url), branch: target.branch }, 'Prefetched into the cache');
      return 'succeeded';
    } catch (error) {
      // Stopping kills the worker: not the repository's failure.
      if (signal.aborted) return 'aborted';
      const code = codeOf(error);
      this.report({ source, url: target && redactUrl(target.url), result: 'failed', error: code, durationMs: this.now() - started });
      // Typed errors carry messages free of credentials (src/git/errors.ts, ./classify-error.ts).
      this.options.logger.warn(
        { gitRepository, repository: target && redactUrl(target.url), branch: target?.branch, code, err: (error as Error).message },
        'Cache prefetch failed',
      );
      return 'failed';
    }
  }

  private report(outcome: PrefetchOutcome): void {
    try {
      this.options.onOutcome?.(outcome);
    } catch {
      // Metrics never stop a pass.
    }
  }
}

/** The error's code when it is one of ours (a stalling error: its reason, e.g. SecretNotFound), else "Error". */
function codeOf(error: unknown): string {
  const { code, reason } = (error ?? {}) as { code?: unknown; reason?: unknown };
  const named = code === 'StallingError' ? reason : code;
  return typeof named === 'string' && /^[A-Za-z]{1,64}$/.test(named) ? named : 'Error';
}
