/**
 * What a Flux object's conditions say about it, by kstatus' rule: a Ready condition counts only
 * when the status speaks for the current spec, i.e. its observed generation equals
 * `metadata.generation`. Which observed generation: kustomize-controller moves
 * `status.observedGeneration` only when Ready=True (`finalizeStatus`), so after a failed
 * reconcile of a new generation only the Ready condition's own `observedGeneration` is current;
 * that one is read first, `status.observedGeneration` when the condition has none.
 */

/** A condition as Flux reports it (metav1.Condition). */
export interface FluxCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

/** The status fields every Flux kind shares (fluxcd/pkg/apis/meta). */
export interface FluxStatus {
  observedGeneration?: number;
  conditions?: FluxCondition[];
}

export interface Readiness {
  /** The Ready condition as reported, whatever generation it is about. */
  condition?: FluxCondition;
  /** The status speaks for the current generation (see the file comment). */
  observed: boolean;
  /** Ready=True for the current generation. */
  ready: boolean;
  /** Ready=False for the current generation. */
  failing: boolean;
}

/** The condition of this type, if any. */
export function findCondition(conditions: FluxCondition[] | undefined, type: string): FluxCondition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Readiness of an object with `metadata.generation` `generation` and this status. Nothing
 * observed yet is never current; an object without a generation (which the API server always
 * sets; only hand-made objects lack it) counts whatever generation was observed as current.
 */
export function readinessOf(generation: number | undefined, status: FluxStatus | undefined): Readiness {
  const condition = findCondition(status?.conditions, 'Ready');
  const observedGeneration = condition?.observedGeneration ?? status?.observedGeneration;
  const observed = observedGeneration !== undefined && (generation === undefined || observedGeneration === generation);
  return { condition, observed, ready: observed && condition?.status === 'True', failing: observed && condition?.status === 'False' };
}
