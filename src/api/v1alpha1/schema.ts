/**
 * The OpenAPI v3 schema of GitOpsRollback: the single source the CRD YAML is generated from
 * (`npm run manifests`). Descriptions show in `kubectl explain`; CEL rules make the API server
 * reject requests that name two targets, or none, and any change to a created rollback.
 */
import { GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from './types.js';

type Schema = Record<string, unknown>;

const REVISION_PATTERN = '^[0-9a-fA-F]{7,40}$';
const revision = (description: string): Schema => ({ type: 'string', pattern: REVISION_PATTERN, description });
const text = (description: string, maxLength = 1024): Schema => ({ type: 'string', maxLength, description });

/** Paths relative to the repository root; no absolute paths, no `..` components. */
const paths = (description: string): Schema => ({
  type: 'array',
  description,
  maxItems: 100,
  items: { type: 'string', minLength: 1, maxLength: 4096 },
  'x-kubernetes-validations': [
    {
      rule: "self.all(p, !p.startsWith('/') && !p.matches('(^|/)\\\\.\\\\.(/|$)'))",
      message: 'paths are relative to the repository root and must not contain ".."',
    },
  ],
});

const conditionSchema: Schema = {
  type: 'object',
  description: 'A metav1.Condition: Ready, Reconciling, Stalled, Reverted, Pushed.',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: { type: 'string', maxLength: 316 },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    reason: { type: 'string', maxLength: 1024, minLength: 1, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' },
    message: { type: 'string', maxLength: 32768 },
  },
};

export const specSchema: Schema = {
  type: 'object',
  description: 'What to roll back, where. Immutable once created: a new rollback is a new object.',
  'x-kubernetes-validations': [
    { rule: 'has(self.sourceRef) != has(self.repository)', message: 'exactly one of sourceRef and repository is required' },
    { rule: 'has(self.revert) != has(self.restore)', message: 'exactly one of revert and restore is required' },
    { rule: 'self == oldSelf', message: 'spec is immutable: create a new GitOpsRollback instead' },
  ],
  properties: {
    sourceRef: {
      type: 'object',
      description: 'A Flux GitRepository (source.toolkit.fluxcd.io/v1); its url, ref.branch and secretRef are used.',
      required: ['kind', 'name'],
      properties: {
        kind: { type: 'string', enum: ['GitRepository'], description: 'Kind of the source; only GitRepository.' },
        name: { type: 'string', minLength: 1, maxLength: 253, description: 'Name of the GitRepository.' },
        namespace: { type: 'string', maxLength: 63, description: "Namespace of the GitRepository; defaults to the rollback's namespace." },
      },
    },
    repository: {
      type: 'object',
      description: 'A repository given directly instead of through Flux.',
      required: ['url', 'branch'],
      properties: {
        url: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^(https?|ssh)://', description: 'Smart HTTP(S) URL of the repository.' },
        branch: { type: 'string', minLength: 1, maxLength: 255, description: 'Branch to roll back.' },
        secretRef: {
          type: 'object',
          description: "Secret in the rollback's namespace, in Flux's format: username/password, or bearerToken.",
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 253 } },
        },
      },
    },
    revert: {
      type: 'object',
      description: 'Revert commits, as git revert does; one revert commit per reverted commit unless squash.',
      'x-kubernetes-validations': [{ rule: 'has(self.commits) != has(self.range)', message: 'exactly one of commits and range is required' }],
      properties: {
        commits: { type: 'array', minItems: 1, maxItems: 100, items: revision('Commit sha (7 to 40 hex characters).'), description: 'Commits to revert; reverted newest first.' },
        range: {
          type: 'object',
          description: 'The commits after from, up to and including to (git revert from..to).',
          required: ['from', 'to'],
          properties: { from: revision('The last good commit (exclusive).'), to: revision('The newest commit to revert (inclusive).') },
        },
        mainline: { type: 'integer', minimum: 1, description: 'For merge commits: the parent number to revert to (git revert -m).' },
        paths: paths('Limit the revert to these paths (partial rollback of one component).'),
        squash: { type: 'boolean', description: 'One commit for all reverts, listing every reverted commit.' },
      },
    },
    restore: {
      type: 'object',
      description: 'Make paths exactly as they were at a known-good revision (files added since are removed).',
      required: ['revision', 'paths'],
      properties: { revision: revision('The known-good revision.'), paths: { ...paths('Paths to restore.'), minItems: 1 } },
    },
    reason: text('Why: written into the commit message.', 4096),
    incident: text('Incident reference, written as an "Incident:" trailer.', 256),
    author: {
      type: 'object',
      description: 'Author and committer of the rollback commit(s).',
      required: ['name', 'email'],
      properties: { name: text('Author name.', 256), email: text('Author email.', 256) },
    },
    dryRun: { type: 'boolean', description: 'Compute and report everything; push nothing.' },
  },
};

export const statusSchema: Schema = {
  type: 'object',
  description: 'What the controller did, in kstatus terms.',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64' },
    conditions: {
      type: 'array',
      items: conditionSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    revertedCommits: { type: 'array', items: { type: 'string' }, description: 'Commits this rollback reverted.' },
    revertCommits: { type: 'array', items: { type: 'string' }, description: 'Commits pushed (the reverts or the restore commit).' },
    alreadyReverted: { type: 'array', items: { type: 'string' }, description: 'Requested commits already reverted on the branch.' },
    changedPaths: { type: 'array', items: { type: 'string' }, description: 'Paths the rollback changed.' },
    conflicts: {
      type: 'array',
      description: 'Paths that did not revert cleanly, with the kind of conflict.',
      items: { type: 'object', required: ['path', 'reason'], properties: { path: { type: 'string' }, reason: { type: 'string' } } },
    },
    headBefore: { type: 'string', description: 'Branch head before the rollback.' },
    headAfter: { type: 'string', description: 'Branch head after the rollback.' },
    startTime: { type: 'string', format: 'date-time' },
    completionTime: { type: 'string', format: 'date-time' },
  },
};

/** The CustomResourceDefinition object (apiextensions.k8s.io/v1). */
export function buildCustomResourceDefinition(): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES, categories: ['gitops'] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
            { name: 'Revert commit', type: 'string', jsonPath: '.status.headAfter' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'GitOpsRollback reverts commits (or restores paths) in a GitOps repository, safely and auditably.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: specSchema,
                status: statusSchema,
              },
            },
          },
        },
      ],
    },
  };
}
