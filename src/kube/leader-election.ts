// Leader election on a coordination.k8s.io/v1 Lease, following client-go's leaderelection:
// a candidate takes the Lease when it is free or its holder has not renewed for
// leaseDuration (measured on our own clock, from when we last saw the record change, so clock
// skew between replicas does not matter); the leader renews every retryPeriod and steps down if
// it could not renew for renewDeadline. Writes use the Lease's resourceVersion, so two candidates
// racing for it cannot both win (the loser gets 409 Conflict).
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { sleep } from '../retry-timing.js';
import { createApiClient, describeKubeError, statusCodeOf } from './client.js';
import { CodedError } from '../coded-error.js';
import { DEFAULT_LEASE_TIMINGS } from './lease-timings.js';

/** Options of {@link LeaderElector}. */
export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease, shared by all replicas. */
  name: string;
  /** This replica's unique identity (e.g. pod name + random suffix). */
  identity: string;
  /** How long a holder's claim lasts without renewal. Default 15 s. */
  leaseDurationSeconds?: number;
  /** The leader steps down if it could not renew for this long. Default 10 s. */
  renewDeadlineSeconds?: number;
  /** Interval between acquire/renew attempts. Default 2 s. */
  retryPeriodSeconds?: number;
  /** Called when this replica becomes the leader: start reconciling. */
  onStartedLeading: () => void;
  /**
   * Called when this replica loses leadership it did not give up (renew deadline passed, or
   * another holder took the Lease): stop reconciling at once. Not called by `stop()`.
   */
  onStoppedLeading: () => void | Promise<void>;
  logger?: Logger;
}

/** The reason work is aborted when this replica lost the Lease: another replica may lead now. */
export class LeadershipLostError extends CodedError {
  readonly code = 'LeadershipLostError' as const;
  constructor() {
    super('This replica lost its leader Lease; work stopped at a safe point');
  }
}

/** Formats a time as a Kubernetes MicroTime (RFC 3339 with microseconds). */
export function formatMicroTime(date: Date): string {
  return new V1MicroTime(date.getTime()).toISOString();
}

/**
 * Elects one leader among replicas sharing a Lease. After losing leadership the elector keeps
 * running as a candidate and may lead again; a caller that prefers to exit (as
 * controller-runtime does) can do so in `onStoppedLeading`.
 */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly options: Required<Omit<LeaderElectorOptions, 'logger' | 'kubeConfig'>>;
  private readonly logger: Logger | undefined;
  private readonly abort = new AbortController();
  private leading = false;
  private loop: Promise<void> | undefined;
  /** resourceVersion of the Lease as last seen, and when (our clock) it last changed. */
  private observedVersion: string | undefined;
  private observedAtMs = 0;
  private observedHolder: string | undefined;
  /** When the last successful renew was sent (our clock). */
  private lastRenewMs = 0;

  constructor(options: LeaderElectorOptions) {
    this.options = {
      namespace: options.namespace,
      name: options.name,
      identity: options.identity,
      leaseDurationSeconds: options.leaseDurationSeconds ?? DEFAULT_LEASE_TIMINGS.leaseDurationSeconds,
      renewDeadlineSeconds: options.renewDeadlineSeconds ?? DEFAULT_LEASE_TIMINGS.renewDeadlineSeconds,
      retryPeriodSeconds: options.retryPeriodSeconds ?? DEFAULT_LEASE_TIMINGS.retryPeriodSeconds,
      onStartedLeading: options.onStartedLeading,
      onStoppedLeading: options.onStoppedLeading,
    };
    validateDurations(this.options.leaseDurationSeconds, this.options.renewDeadlineSeconds, this.options.retryPeriodSeconds);
    this.logger = options.logger?.child({ lease: `${options.namespace}/${options.name}` });
    // A request must end well within the renew deadline, or one hung call would use it all.
    const timeoutMs = Math.max(1000, (this.options.renewDeadlineSeconds * 1000) / 2);
    this.api = createApiClient(options.kubeConfig, CoordinationV1Api, { timeoutMs });
  }

  /** Whether this replica holds the Lease right now. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts competing for the Lease in the background. Calling it twice has no effect. */
  start(): void {
    this.loop ??= this.runLoop();
  }

  /**
   * Stops competing and, if leading, releases the Lease so a standby takes over at its next
   * attempt instead of waiting for the Lease to expire. The caller stops its own work first
   * (e.g. drains the queue): `onStoppedLeading` is for involuntary loss only.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (!this.leading) return;
    this.leading = false;
    await this.releaseLease();
  }

  /** Tries to acquire or renew every retry period until stopped. */
  private async runLoop(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const attemptStartedMs = Date.now();
      const attempt = this.tryAcquireOrRenew(attemptStartedMs);
      const held = this.leading ? await this.raceRenewDeadline(attempt) : await attempt;
      if (this.abort.signal.aborted) break;
      await this.updateLeadership(held, attemptStartedMs);
      await sleep(this.computeRetryDelayMs(), this.abort.signal);
    }
  }

  /**
   * A leader's attempt counts as failed once the renew deadline passes, even if the request is
   * still pending: stepping down must happen before a standby may consider the Lease expired.
   */
  private async raceRenewDeadline(attempt: Promise<boolean>): Promise<boolean> {
    const remainingMs = this.lastRenewMs + this.options.renewDeadlineSeconds * 1000 - Date.now();
    const deadline = new AbortController();
    const expired = sleep(Math.max(0, remainingMs), deadline.signal).then(() => false);
    try {
      return await Promise.race([attempt, expired]);
    } finally {
      deadline.abort();
    }
  }

  /** Turns one attempt's outcome into a leadership change, if any. */
  private async updateLeadership(held: boolean, attemptStartedMs: number): Promise<void> {
    if (held) {
      // Count from when the request was sent: the server may have seen it that early.
      this.lastRenewMs = attemptStartedMs;
      if (!this.leading) this.startLeading();
      return;
    }
    if (!this.leading) return;
    const sinceRenewMs = Date.now() - this.lastRenewMs;
    if (sinceRenewMs >= this.options.renewDeadlineSeconds * 1000 || this.isHeldByAnother()) {
      await this.loseLeadership();
    }
  }

  /** Candidates wait a jittered period (as client-go does) so they do not retry in lockstep. */
  private computeRetryDelayMs(): number {
    const base = this.options.retryPeriodSeconds * 1000;
    return this.leading ? base : base * (1 + 0.2 * Math.random());
  }

  /** Reads the Lease and writes ourselves into it if we may. Returns whether we hold it. */
  private async tryAcquireOrRenew(nowMs: number): Promise<boolean> {
    try {
      const lease = await this.readLease();
      if (!lease) return await this.createLease(nowMs);
      this.observe(lease, nowMs);
      if (!this.mayTake(lease, nowMs)) return false;
      await this.api.replaceNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
        body: { ...lease, spec: this.makeSpec(lease.spec, nowMs) },
      });
      return true;
    } catch (error) {
      this.logAttemptFailure(error);
      return false;
    }
  }

  /** Reads the Lease, or returns undefined if it does not exist yet. */
  private async readLease(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Creates the Lease with us as holder (409 if another replica created it first). */
  private async createLease(nowMs: number): Promise<boolean> {
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.options.name, namespace: this.options.namespace },
      spec: this.makeSpec(undefined, nowMs),
    };
    await this.api.createNamespacedLease({ namespace: this.options.namespace, body });
    return true;
  }

  /** Notes when the Lease record last changed, on our clock (the basis of expiry). */
  private observe(lease: V1Lease, nowMs: number): void {
    const version = lease.metadata?.resourceVersion;
    if (version !== this.observedVersion) {
      this.observedVersion = version;
      this.observedAtMs = nowMs;
    }
    this.observedHolder = lease.spec?.holderIdentity;
  }

  /** Whether the last seen holder is another replica. */
  private isHeldByAnother(): boolean {
    return Boolean(this.observedHolder) && this.observedHolder !== this.options.identity;
  }

  /** We may write the Lease if it is ours, free, or expired. */
  private mayTake(lease: V1Lease, nowMs: number): boolean {
    const holder = lease.spec?.holderIdentity;
    if (!holder || holder === this.options.identity) return true;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.options.leaseDurationSeconds) * 1000;
    return nowMs > this.observedAtMs + durationMs;
  }

  /** The spec that claims (or renews) the Lease for us. */
  private makeSpec(current: V1LeaseSpec | undefined, nowMs: number): V1LeaseSpec {
    const now = new V1MicroTime(nowMs);
    const renewing = current?.holderIdentity === this.options.identity;
    const transitions = current?.leaseTransitions ?? 0;
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: this.options.leaseDurationSeconds,
      acquireTime: renewing && current?.acquireTime ? current.acquireTime : now,
      renewTime: now,
      leaseTransitions: renewing || !current ? transitions : transitions + 1,
    };
  }

  /** Marks us leader and tells the caller. */
  private startLeading(): void {
    this.leading = true;
    this.logger?.info({ identity: this.options.identity }, 'Became leader');
    try {
      this.options.onStartedLeading();
    } catch (error) {
      this.logger?.error({ err: describeKubeError(error) }, 'onStartedLeading failed');
    }
  }

  /** Marks us not leader and tells the caller. */
  private async loseLeadership(): Promise<void> {
    this.leading = false;
    this.logger?.warn({ renewDeadlineSeconds: this.options.renewDeadlineSeconds }, 'Lost leadership');
    try {
      await this.options.onStoppedLeading();
    } catch (error) {
      this.logger?.error({ err: describeKubeError(error) }, 'onStoppedLeading failed');
    }
  }

  /** Clears the holder so a standby acquires at once. Best effort: expiry covers a failure. */
  private async releaseLease(): Promise<void> {
    try {
      const lease = await this.readLease();
      if (!lease || lease.spec?.holderIdentity !== this.options.identity) return;
      const now = new V1MicroTime(Date.now());
      const spec: V1LeaseSpec = {
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: lease.spec?.leaseTransitions ?? 0,
      };
      await this.api.replaceNamespacedLease({ name: this.options.name, namespace: this.options.namespace, body: { ...lease, spec } });
      this.logger?.info('Released lease');
    } catch (error) {
      this.logger?.warn({ err: describeKubeError(error) }, 'Failed to release lease; standby takes over when it expires');
    }
  }

  /** Conflicts are normal (another replica won the race); anything else is worth a warning. */
  private logAttemptFailure(error: unknown): void {
    const statusCode = statusCodeOf(error);
    if (statusCode === 409) this.logger?.debug('Lease update conflicted; another replica won the race');
    else this.logger?.warn({ err: describeKubeError(error), leading: this.leading }, 'Failed to acquire or renew lease');
  }
}

/** Rejects settings that could let two leaders overlap. */
function validateDurations(leaseDuration: number, renewDeadline: number, retryPeriod: number): void {
  if (!(leaseDuration > renewDeadline)) throw new RangeError('leaseDurationSeconds must be greater than renewDeadlineSeconds');
  if (!(renewDeadline > retryPeriod)) throw new RangeError('renewDeadlineSeconds must be greater than retryPeriodSeconds');
  if (!(retryPeriod > 0)) throw new RangeError('retryPeriodSeconds must be positive');
}
