/**
 * `spec.suspendImageUpdates`: the ImageUpdateAutomations a rollback suspends so image automation
 * cannot push the newer image straight back. Suspension happens right before the push, once the
 * engine has computed a clean revert that passed the safety gate (the engine's `beforePublish`
 * hook), and is recorded in `status.suspendedImageUpdates` before the push. When the run then
 * ends without pushing (the push declined, a timeout, a missing automation), the automations
 * this run suspended are resumed: a failed rollback leaves image automation as it found it.
 * Automations that were already suspended are never resumed.
 */
import type { GitOpsRollback } from '../api/v1alpha1/types.js';
import { Reason } from '../api/v1alpha1/conditions.js';
import type { FluxPort, ObjectKey } from '../flux/flux-port.js';
import type { RollbackResult } from '../git/engine.js';
import { StallingError } from './classify-error.js';
import type { ClusterPort } from './ports.js';
import type { RollbackStatus } from './rollback-status.js';
import { isSameJson } from './merge-patch.js';

export interface ImageUpdateSuspensionOptions {
  flux: Pick<FluxPort, 'suspendImageUpdateAutomation' | 'resumeImageUpdateAutomation'>;
  cluster: Pick<ClusterPort, 'recordEvent'>;
  /** The automations to suspend, namespaces filled in and already checked. */
  keys: ObjectKey[];
}

/** One reconcile's suspension: remembers which automations it changed, to undo just those. */
export class ImageUpdateSuspension {
  private readonly suspendedByUs = new Map<string, ObjectKey>();

  constructor(
    private readonly rollback: GitOpsRollback,
    private readonly options: ImageUpdateSuspensionOptions,
  ) {}

  /**
   * Suspends every automation (idempotent) and records them in `status.suspendedImageUpdates`,
   * written before the push so a crash leaves the record. StallingError
   * ImageUpdateAutomationNotFound when one is missing.
   */
  async suspend(status: RollbackStatus): Promise<void> {
    const { flux, keys } = this.options;
    if (keys.length === 0) return;
    for (const key of keys) {
      const outcome = await flux.suspendImageUpdateAutomation(key);
      if (outcome === 'not-found') {
        throw new StallingError(Reason.ImageUpdateAutomationNotFound, `ImageUpdateAutomation ${key.namespace}/${key.name} was not found; nothing was pushed`);
      }
      if (outcome === 'suspended') this.suspendedByUs.set(idOf(key), key);
    }
    const suspendedImageUpdates = keys.map(({ name, namespace }) => ({ name, namespace }));
    if (isSameJson(status.value.suspendedImageUpdates, suspendedImageUpdates)) return;
    await status.update({ suspendedImageUpdates }).persist();
    const names = keys.map(idOf).join(', ');
    await this.options.cluster.recordEvent(
      this.rollback,
      'Normal',
      Reason.ImageUpdatesSuspended,
      `Suspended ImageUpdateAutomation(s) ${names} before the push; resume them after the incident`,
    );
  }

  /**
   * After the engine: a pushed result (or our commit found already on the branch, e.g. pushed
   * before a crash) needs the automations suspended; anything else needs ours resumed.
   */
  async settle(result: RollbackResult, status: RollbackStatus): Promise<void> {
    // 'reverted' went through beforePublish, which suspended them already.
    if (result.result === 'reverted') return;
    if (result.existingCommit !== undefined && !this.rollback.spec.dryRun) return this.suspend(status);
    return this.resume(status);
  }

  /**
   * The run ends without a push: resumes the automations this run suspended and drops them from
   * the status in memory (the caller writes it). Best effort per automation; failures are returned
   * in the Event's words, never thrown over the rollback's own error.
   */
  async resume(status: RollbackStatus): Promise<void> {
    if (this.suspendedByUs.size === 0) return;
    const resumed: string[] = [];
    const failed: string[] = [];
    for (const [id, key] of this.suspendedByUs) {
      try {
        await this.options.flux.resumeImageUpdateAutomation(key);
        resumed.push(id);
      } catch {
        failed.push(id);
      }
    }
    this.suspendedByUs.clear();
    const kept = (status.value.suspendedImageUpdates ?? []).filter((ref) => !resumed.includes(`${ref.namespace}/${ref.name}`));
    const message = `Nothing was pushed: resumed ImageUpdateAutomation(s) ${resumed.join(', ') || '(none)'}${failed.length ? `; could not resume ${failed.join(', ')}` : ''}`;
    await this.options.cluster.recordEvent(this.rollback, failed.length ? 'Warning' : 'Normal', Reason.ImageUpdatesResumed, message).catch(() => undefined);
    status.update({ suspendedImageUpdates: kept.length ? kept : undefined });
  }
}

function idOf(key: ObjectKey): string {
  return `${key.namespace}/${key.name}`;
}
