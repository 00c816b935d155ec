/**
 * Fakes at the reconciler's boundary for the Flux-in-the-loop tests (apply-wait, pull requests):
 * a ClusterPort that keeps the rollback's status as the API server would (so later reconciles
 * see it), and a FluxPort whose Kustomizations and GitRepositories the test drives.
 */
import type { GitOpsRollback, GitOpsRollbackStatus } from '../../../src/api/v1alpha1/types.js';
import type { ClusterPort } from '../../../src/controller/ports.js';
import type { FluxCondition, FluxPort, ObjectKey, ReconcilableKind, SuspendOutcome } from '../../../src/flux/flux-port.js';
import type { GitRepositoryView } from '../../../src/flux/git-repository.js';
import type { KustomizationView } from '../../../src/flux/kustomization.js';
import { applyMergePatch, type MergePatch } from '../../../src/controller/merge-patch.js';

/** Keeps the rollback's status as the API server would, so later reconciles see it. */
export class FakeCluster implements ClusterPort {
  statuses: GitOpsRollbackStatus[] = [];
  events: string[] = [];
  constructor(
    public rollback: GitOpsRollback,
    private readonly log: string[],
  ) {}
  async getRollback() {
    return structuredClone(this.rollback);
  }
  async patchRollbackStatus(_r: GitOpsRollback, patch: MergePatch) {
    const status = applyMergePatch<GitOpsRollbackStatus>(this.rollback.status, patch);
    this.statuses.push(status);
    this.rollback = { ...this.rollback, status: JSON.parse(JSON.stringify(status)) };
    this.log.push('status');
  }
  repository: GitRepositoryView = { url: 'https://git.example/fleet.git', ref: { branch: 'main' } };
  /** Secrets by namespace/name. */
  secrets = new Map<string, Record<string, string>>();
  async getGitRepository(): Promise<GitRepositoryView> {
    return this.repository;
  }
  async getSecretData(namespace: string, name: string) {
    return this.secrets.get(`${namespace}/${name}`) ?? null;
  }
  async recordEvent(_r: GitOpsRollback, type: string, reason: string) {
    this.events.push(`${type}/${reason}`);
  }
  condition(type: string) {
    return this.rollback.status?.conditions?.find((c) => c.type === type);
  }
}

export class FakeFlux implements FluxPort {
  kustomizations = new Map<string, KustomizationView>();
  automations = new Map<string, boolean>();
  /** GitRepository namespace/name -> status.artifact.revision. */
  artifacts = new Map<string, string>();
  requests: string[] = [];
  constructor(private readonly log: string[]) {}
  add(name: string, path: string, namespace = 'flux-system') {
    this.kustomizations.set(`${namespace}/${name}`, {
      namespace,
      name,
      generation: 1,
      path,
      sourceRef: { kind: 'GitRepository', name: 'fleet' },
      status: { observedGeneration: 1 },
    });
  }
  report(name: string, status: KustomizationView['status']) {
    const k = this.kustomizations.get(`flux-system/${name}`)!;
    this.kustomizations.set(`flux-system/${name}`, { ...k, status: { observedGeneration: 1, ...status } });
  }
  async listKustomizations(namespace?: string) {
    return [...this.kustomizations.values()].filter((k) => namespace === undefined || k.namespace === namespace);
  }
  async getKustomization(key: ObjectKey) {
    return this.kustomizations.get(`${key.namespace}/${key.name}`) ?? null;
  }
  /** The requestedAt of the last request per Kustomization (what Flux answers in lastHandledReconcileAt). */
  requestedAt = new Map<string, string>();
  async requestReconcile(kind: ReconcilableKind, key: ObjectKey, requestedAt: string) {
    this.requests.push(`${kind} ${key.namespace}/${key.name}`);
    this.requestedAt.set(key.name, requestedAt);
    return true;
  }
  async getArtifactRevision(key: ObjectKey) {
    return this.artifacts.get(`${key.namespace}/${key.name}`) ?? null;
  }
  /** GitRepository namespace/name -> its SourceVerified condition. */
  verified = new Map<string, FluxCondition>();
  async getSourceVerified(key: ObjectKey) {
    return this.verified.get(`${key.namespace}/${key.name}`) ?? null;
  }
  async suspendImageUpdateAutomation(key: ObjectKey): Promise<SuspendOutcome> {
    const id = `${key.namespace}/${key.name}`;
    if (!this.automations.has(id)) return 'not-found';
    const was = this.automations.get(id);
    this.automations.set(id, true);
    this.log.push(`suspend ${id}`);
    return was ? 'already-suspended' : 'suspended';
  }
  async resumeImageUpdateAutomation(key: ObjectKey): Promise<boolean> {
    const id = `${key.namespace}/${key.name}`;
    if (!this.automations.has(id)) return false;
    this.automations.set(id, false);
    this.log.push(`resume ${id}`);
    return true;
  }
}
