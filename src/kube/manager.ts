/**
 * Starts and stops the operator's parts in order, after controller-runtime's manager
 * (pkg/manager/internal.go, runnable_group.go): each part is a {@link Runnable} that says whether
 * it needs the leader Lease ("controllers need to be run in leader election mode, while webhook
 * server doesn't"). Start: servers, then caches, then other workers, all on every replica; the
 * operator is ready once they run; then, once the Lease is held, the runnables that need it.
 * Stop: the reverse, each part given at most the shutdown timeout to drain, the Lease released
 * once the leader-only parts have stopped. A part that fails to start stops the others.
 */
import type { Logger } from 'pino';
import { LeadershipLostError } from './leader-election.js';

/** Start order, as controller-runtime's groups: HTTP servers, caches (informers), the rest. */
const GROUP_ORDER = ['server', 'cache', 'worker'] as const;

/** One unit the manager starts and stops. */
export interface Runnable {
  /** Named in logs. */
  readonly name: string;
  readonly group: (typeof GROUP_ORDER)[number];
  /** True for controllers (only the Lease holder reconciles); false for servers and caches. */
  readonly needLeaderElection: boolean;
  /** Resolves once it runs (a server listens, a cache synced); rejects if it cannot start. */
  start(): Promise<void> | void;
  /** Stops it and drains its work in flight. */
  stop?(): Promise<void> | void;
}

/** What the manager needs of leader election (src/kube/leader-election.ts's LeaderElector). */
export interface LeaderElection {
  start(): void;
  /** Stops competing and releases the Lease if held. */
  stop(): Promise<void>;
}

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  onStoppedLeading: () => Promise<void>;
}

export interface ManagerOptions {
  logger: Logger;
  /** How long each runnable may take to stop (--shutdown-timeout) before the manager moves on. */
  shutdownTimeoutMs: number;
  /** Makes the elector of the Lease (--leader-elect); without it every runnable starts at once. */
  leaderElection?: (callbacks: LeaderCallbacks) => LeaderElection;
}

/**
 * Runs the runnables added to it. `start` settles when the manager ends: resolves after a
 * graceful stop, rejects with {@link LeadershipLostError} after the Lease was lost (leader-only
 * work drained, the rest left running: the caller exits), or with the error of a runnable that
 * failed to start (all others stopped).
 */
export class Manager {
  private readonly runnables: Runnable[] = [];
  /** Started (or starting) runnables, in start order; the elector among them. */
  private readonly started: Runnable[] = [];
  private readonly lost = new AbortController();
  private running = false;
  private ending = false;
  private end = { resolve: (): void => undefined, reject: (_error: unknown): void => undefined };

  constructor(private readonly options: ManagerOptions) {}

  /**
   * Aborted with {@link LeadershipLostError} when this replica loses the Lease: work in flight
   * stops before its push, never during it (another replica may lead now).
   */
  get leadershipLost(): AbortSignal {
    return this.lost.signal;
  }

  /** For /readyz: every runnable that needs no Lease runs (caches synced), and no stop has begun. */
  get isReady(): boolean {
    return this.running && !this.ending;
  }

  add(runnable: Runnable): void {
    this.runnables.push(runnable);
  }

  /** Starts everything; `shutdown` aborting (SIGTERM) stops it gracefully. See the class comment. */
  start(shutdown: AbortSignal): Promise<void> {
    const ended = new Promise<void>((resolve, reject) => (this.end = { resolve, reject }));
    if (shutdown.aborted) this.stop(shutdown.reason);
    else shutdown.addEventListener('abort', () => void this.stop(shutdown.reason), { once: true });
    void this.startAll().catch((error: unknown) => this.fail(error));
    return ended;
  }

  private async startAll(): Promise<void> {
    await this.startEach(this.ordered(false));
    if (this.ending) return;
    this.running = true;
    const elect = this.options.leaderElection;
    if (!elect) return this.startEach(this.ordered(true));
    const elector = elect({ onStartedLeading: () => this.startLeading(), onStoppedLeading: () => this.loseLeadership() });
    // Stopped after the leader-only runnables (which start after it) and before the rest.
    await this.startEach([{ name: 'leader-election', group: 'worker', needLeaderElection: false, start: () => elector.start(), stop: () => elector.stop() }]);
  }

  private startLeading(): void {
    this.options.logger.info({}, 'Started leading; reconciling');
    void this.startEach(this.ordered(true)).catch((error: unknown) => this.fail(error));
  }

  /** Starts one at a time, in order; a stop begun meanwhile ends the loop. */
  private async startEach(runnables: Runnable[]): Promise<void> {
    for (const runnable of runnables) {
      if (this.ending) return;
      // Listed before it has started, so a stop also stops a start still under way.
      this.started.push(runnable);
      await runnable.start();
    }
  }

  /** Graceful stop: everything in reverse start order, the Lease released on the way. */
  private async stop(reason: unknown): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    this.options.logger.info({ signal: String(reason) }, 'Shutting down: draining work in flight');
    await this.stopEach(this.started);
    this.options.logger.info({}, 'Stopped');
    this.end.resolve();
  }

  /** Another replica may lead now: stop the leader-only work at a safe point, then end (the caller exits). */
  private async loseLeadership(): Promise<void> {
    this.options.logger.error({}, 'Lost leadership; stopping work at a safe point, then exiting');
    this.lost.abort(new LeadershipLostError());
    if (this.ending) return;
    this.ending = true;
    await this.stopEach(this.started.filter((runnable) => runnable.needLeaderElection));
    this.end.reject(new LeadershipLostError());
  }

  /** A runnable failed to start: stop the others, then end with its error. */
  private async fail(error: unknown): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    this.options.logger.error({ err: (error as Error).message }, 'A runnable failed to start; stopping the others');
    await this.stopEach(this.started);
    this.end.reject(error);
  }

  private async stopEach(runnables: Runnable[]): Promise<void> {
    for (const runnable of [...runnables].reverse()) await this.stopWithin(runnable, this.options.shutdownTimeoutMs);
  }

  /** A stop that hangs (or throws) must not keep the others running: log it and move on. */
  private async stopWithin(runnable: Runnable, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const stopped = Promise.resolve()
      .then(() => runnable.stop?.())
      .then(
        () => 'stopped' as const,
        (error: unknown) => {
          this.options.logger.warn({ runnable: runnable.name, err: (error as Error).message }, 'Runnable failed to stop');
          return 'stopped' as const;
        },
      );
    const outcome = await Promise.race([stopped, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.options.logger.warn({ runnable: runnable.name, timeoutMs }, 'Runnable did not stop within the shutdown timeout');
  }

  /** The runnables that do (or do not) need the Lease, in group order, added order within a group. */
  private ordered(needLeaderElection: boolean): Runnable[] {
    return GROUP_ORDER.flatMap((group) => this.runnables.filter((r) => r.group === group && r.needLeaderElection === needLeaderElection));
  }
}

/**
 * A server as a runnable (controller-runtime's HTTPServers group): started first, stopped last so
 * probes and /metrics answer while the rest drains.
 */
export function serverRunnable(name: string, listen: () => Promise<Closable>): Runnable {
  let server: Closable | undefined;
  return {
    name,
    group: 'server',
    needLeaderElection: false,
    start: async () => void (server = await listen()),
    // node:http's close returns the server (nothing to wait for); the receiver's, a promise.
    stop: async () => void (await server?.close()),
  };
}

/** What {@link serverRunnable} needs of a server (node:http's Server, the webhook receiver). */
export interface Closable {
  close(): unknown;
}

/** What {@link queueRunnable} needs of a work queue (src/controller/work-queue.ts's WorkQueue). */
export interface DrainableQueue {
  start(): void;
  shutDown(options: { drainTimeoutMs: number }): Promise<void>;
}

/**
 * A work queue's workers as a runnable (controller-runtime's controllers): started with the
 * workers, drained on stop for at most `drainTimeoutMs` (--shutdown-timeout).
 */
export function queueRunnable(name: string, queue: DrainableQueue, options: { needLeaderElection: boolean; drainTimeoutMs: number }): Runnable {
  return {
    name,
    group: 'worker',
    needLeaderElection: options.needLeaderElection,
    start: () => queue.start(),
    stop: () => queue.shutDown({ drainTimeoutMs: options.drainTimeoutMs }),
  };
}
