/**
 * Every refusal of an automated trigger that the trigger processor words itself, in one place: the
 * Warning Event's reason and the message the policy's owner reads. (The policy-level checks,
 * namespace confinement and rate limits, word theirs in ./policy-decision.ts.)
 */
import { PolicyEventReason } from '../api/v1alpha1/policy-types.js';
import type { Refusal } from './policy-decision.js';
import type { ObjectKey } from '../flux/flux-port.js';
import { shortSha } from '../short-sha.js';

const range = (from: string, to: string): string => `${shortSha(from)}..${shortSha(to)}`;

export const refusals = {
  noHealthyRevision: (kustomization: string, failingRevision: string): Refusal => ({
    reason: PolicyEventReason.NoHealthyRevision,
    message: `Kustomization ${kustomization} failed at ${failingRevision}, but no earlier healthy revision is known to roll back to (neither the policy's status nor Flux's status.history holds one)`,
  }),
  unsupportedSourceKind: (kustomization: string, kind: string | undefined): Refusal => ({
    reason: PolicyEventReason.UnsupportedSource,
    message: `Kustomization ${kustomization} applies a ${kind ?? 'missing'} source; only GitRepository sources can be rolled back`,
  }),
  unsupportedPath: (message: string): Refusal => ({ reason: PolicyEventReason.UnsupportedSource, message }),
  crossNamespaceSource: (kustomization: string, source: ObjectKey): Refusal => ({
    reason: PolicyEventReason.CrossNamespaceRefForbidden,
    message: `GitRepository ${source.namespace}/${source.name} of Kustomization ${kustomization} is outside the policy's namespace; the operator does not allow cross-namespace references`,
  }),
  commitRangeUnreadable: (source: ObjectKey, from: string, to: string, cause: string): Refusal => ({
    reason: PolicyEventReason.CommitRangeUnreadable,
    message: `Cannot read commits ${range(from, to)} of GitRepository ${source.namespace}/${source.name}: ${cause}`,
  }),
  nothingToRevert: (kustomization: string, from: string, to: string): Refusal => ({
    reason: PolicyEventReason.NothingToRevert,
    message: `No commits between ${shortSha(from)} and ${shortSha(to)} for Kustomization ${kustomization}`,
  }),
  rollbackLoop: (kustomization: string, rollbackCommit: string, from: string, to: string): Refusal => ({
    reason: PolicyEventReason.RollbackLoopPrevented,
    message: `Commit ${shortSha(rollbackCommit)} in ${range(from, to)} is itself a rollback; not reverting it automatically (Kustomization ${kustomization})`,
  }),
};

/** The Normal Event's message when a rollback was created. */
export function rollbackCreatedMessage(input: {
  name: string;
  commits: number;
  from: string;
  to: string;
  paths: string;
  kustomization: string;
  trigger: string;
  /** Where `from` was found (policy-decision.ts describeLastGood). */
  lastGood: string;
}): string {
  return `Created GitOpsRollback ${input.name}: revert ${input.commits} commit(s) ${range(input.from, input.to)} in ${input.paths} for Kustomization ${input.kustomization} (${input.trigger}); ${input.lastGood}`;
}
