/**
 * The OpenAPI v3 schema of GitOpsRollback: the single source the CRD YAML is generated from
 * (`npm run manifests`). Descriptions show in `kubectl explain`; CEL rules make the API server
 * reject requests that name two targets, or none, and any change to a created rollback.
 */
import { DEFAULT_MERGE_TIMEOUT, DEFAULT_RECONCILE_TIMEOUT, GROUP, PULL_REQUEST_PROVIDERS, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from './types.js';

export type Schema = Record<string, unknown>;

const REVISION_PATTERN = '^[0-9a-fA-F]{7,40}$';
const revision = (description: string): Schema => ({ type: 'string', pattern: REVISION_PATTERN, description });
const text = (description: string, maxLength = 1024): Schema => ({ type: 'string', maxLength, description });

/**
 * An incident reference: one token (src/git/commit-fields.ts checks the same; src/api imports
 * nothing), so it stays one trailer line.
 */
export const INCIDENT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:/#?=&%+@~-]{0,255}$';
/** A git identity field: no "<", ">" or control characters (a newline would forge a header). */
export const IDENT_PATTERN = '^[^<>\\x00-\\x1F\\x7F]+$';
export const incidentSchema = (description: string): Schema => ({ type: 'string', maxLength: 256, pattern: INCIDENT_PATTERN, description });

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

/** A branch name the engine accepts (src/git/engine.ts checks the same, and no "..", no leading or trailing "/"). */
const BRANCH_PATTERN = '^[A-Za-z0-9._/-]+$';
/** Go durations as Flux writes them (src/flux/duration.ts parses them; src/api imports nothing). */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';

/** A Flux object by name, in the rollback's namespace unless `namespace` says otherwise. */
const fluxObjectReference = (kind: string): Schema => ({
  type: 'object',
  description: `A ${kind}.`,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 253, description: `Name of the ${kind}.` },
    namespace: { type: 'string', maxLength: 63, description: "Defaults to the rollback's namespace; other namespaces need --allow-cross-namespace-refs." },
  },
});

/**
 * A metav1.Condition. The GitOpsRollback CRD also publishes a description and the reason's
 * pattern; the GitOpsRollbackPolicy CRD neither.
 */
export function conditionSchema(published: { description?: string; reasonPattern?: boolean } = {}): Schema {
  return {
    type: 'object',
    ...(published.description === undefined ? {} : { description: published.description }),
    required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
    properties: {
      type: { type: 'string', maxLength: 316 },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
      observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
      lastTransitionTime: { type: 'string', format: 'date-time' },
      reason: { type: 'string', maxLength: 1024, minLength: 1, ...(published.reasonPattern ? { pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' } : {}) },
      message: { type: 'string', maxLength: 32768 },
    },
  };
}

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
        url: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^(https?|ssh)://', description: 'Smart HTTP(S) or ssh:// URL of the repository.' },
        branch: { type: 'string', minLength: 1, maxLength: 255, description: 'Branch to roll back.' },
        secretRef: {
          type: 'object',
          description:
            "Secret in the rollback's namespace, in Flux's format: username/password, or bearerToken; for ssh:// URLs identity, known_hosts and optionally password (the key's passphrase).",
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
        commits: {
          type: 'array',
          minItems: 1,
          maxItems: 100,
          items: revision('Commit sha (7 to 40 hex characters).'),
          description: 'Commits to revert; reverted newest first.',
        },
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
    reason: text(
      'Why: written into the commit message as one paragraph (newlines become spaces, control characters are dropped, cut at 2000 characters).',
      4096,
    ),
    incident: incidentSchema('Incident reference (one token: letters, digits and ._:/#?=&%+@~-), written as an "Incident:" trailer.'),
    author: {
      type: 'object',
      description: 'Author and committer of the rollback commit(s).',
      required: ['name', 'email'],
      properties: {
        name: { ...text('Author name; no "<", ">" or control characters.', 256), minLength: 1, pattern: IDENT_PATTERN },
        email: { ...text('Author email; no "<", ">" or control characters.', 256), minLength: 1, pattern: IDENT_PATTERN },
      },
    },
    signing: {
      type: 'object',
      description:
        'Sign the revert commits (a gpgsig header that git verify-commit and Flux GitRepository spec.verify check), as ImageUpdateAutomation signs its commits.',
      required: ['secretRef'],
      properties: {
        secretRef: {
          type: 'object',
          description:
            "Secret in the rollback's namespace holding git.asc (an armored OpenPGP secret key) or identity (an OpenSSH private key: ed25519, RSA or ECDSA), and passphrase when the key is encrypted.",
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 253 } },
        },
      },
    },
    push: {
      type: 'object',
      description:
        "Push the revert onto a new branch created from the target branch's head, instead of onto the target branch (as ImageUpdateAutomation's spec.git.push.branch). An existing branch is never overwritten: the rollback stalls with PushBranchExists.",
      required: ['branch'],
      properties: { branch: { type: 'string', minLength: 1, maxLength: 255, pattern: BRANCH_PATTERN, description: 'The new branch.' } },
    },
    pullRequest: {
      type: 'object',
      description:
        'Open a pull request (GitLab: merge request) from the push branch (spec.push.branch, default gitops-rollback/<name>) into the target branch, with the reason, incident, reverted commits and safety verdict; wait for its merge (Ready=Unknown WaitingForMerge), then for Flux as after a direct push. Closed unmerged: Stalled PullRequestClosed.',
      required: ['provider'],
      properties: {
        provider: { type: 'string', enum: [...PULL_REQUEST_PROVIDERS], description: 'The git host: github, gitlab or gitea.' },
        apiUrl: {
          type: 'string',
          maxLength: 2048,
          pattern: '^https?://',
          description:
            'REST API base URL. Default from the repository URL: https://api.github.com (github.com) or https://<host>/api/v3 (GitHub Enterprise), https://<host>/api/v4 (GitLab), https://<host>/api/v1 (Gitea).',
        },
        secretRef: {
          type: 'object',
          description: "Secret in the rollback's namespace with the API token under `token`. Default: the repository Secret's bearerToken or password.",
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 253 } },
        },
        timeout: {
          type: 'string',
          pattern: DURATION_PATTERN,
          default: DEFAULT_MERGE_TIMEOUT,
          description: `How long to wait for the merge after opening the pull request (Go duration). Default ${DEFAULT_MERGE_TIMEOUT}; then Stalled MergeTimeout.`,
        },
      },
    },
    dryRun: { type: 'boolean', description: 'Compute and report everything; push nothing.' },
    reconcile: {
      type: 'object',
      description:
        'Wait for Flux after the push: request a reconcile of the GitRepository and the Kustomizations, then wait until each Kustomization has applied the rollback commit and is Ready (condition Applied). Without kustomizations, those whose sourceRef is the GitRepository and whose spec.path covers a changed path.',
      properties: {
        kustomizations: {
          type: 'array',
          maxItems: 50,
          items: fluxObjectReference('Kustomization (kustomize.toolkit.fluxcd.io/v1)'),
          description: 'Kustomizations to wait for.',
        },
        timeout: {
          type: 'string',
          pattern: DURATION_PATTERN,
          default: DEFAULT_RECONCILE_TIMEOUT,
          description: `How long to wait after the push (Go duration: 30s, 5m, 1h). Default ${DEFAULT_RECONCILE_TIMEOUT}.`,
        },
      },
    },
    suspendImageUpdates: {
      type: 'array',
      maxItems: 50,
      items: fluxObjectReference('ImageUpdateAutomation (image.toolkit.fluxcd.io)'),
      description:
        'ImageUpdateAutomations to suspend (spec.suspend=true) before the push, so they do not push the newer image straight back. They stay suspended: resuming is a decision for after the incident.',
    },
    safety: {
      type: 'object',
      description:
        "Safety gates: deleting or changing a protected kind (CustomResourceDefinition, PersistentVolumeClaim, PersistentVolume, Namespace, plus the operator's --safety-protected-kinds) blocks the rollback unless allowed here.",
      properties: {
        allow: {
          type: 'array',
          maxItems: 50,
          items: { type: 'string', minLength: 1, maxLength: 253 },
          description:
            'Kinds this rollback may delete or change (e.g. CustomResourceDefinition); Unparsable lets through changed files whose objects cannot be known (unparsable manifests, kustomizations that cannot be followed).',
        },
      },
    },
  },
};

const objectChangeSchema: Schema = {
  type: 'object',
  required: ['kind', 'name', 'file', 'change'],
  properties: {
    kind: { type: 'string' },
    apiVersion: { type: 'string' },
    name: { type: 'string' },
    namespace: { type: 'string' },
    file: { type: 'string' },
    change: { type: 'string', enum: ['added', 'removed', 'changed'] },
  },
};

const safetyStatusSchema: Schema = {
  type: 'object',
  description: 'The safety check: verdict, blocked and allowed objects, objects added/removed/changed per kind.',
  required: ['verdict'],
  properties: {
    verdict: { type: 'string', enum: ['Passed', 'Blocked'] },
    blocked: { type: 'array', items: objectChangeSchema, description: 'Protected objects removed or changed without an allow.' },
    allowed: { type: 'array', items: objectChangeSchema, description: 'Protected objects removed or changed, allowed by spec.safety.allow.' },
    summary: {
      type: 'array',
      description: 'Objects added, removed and changed, per kind.',
      items: {
        type: 'object',
        required: ['kind', 'added', 'removed', 'changed'],
        properties: { kind: { type: 'string' }, added: { type: 'integer' }, removed: { type: 'integer' }, changed: { type: 'integer' } },
      },
    },
    objects: { type: 'array', items: objectChangeSchema, description: 'The objects added, removed and changed (the first 100).' },
    objectCount: { type: 'integer', description: 'How many objects in all.' },
    unparsable: {
      type: 'array',
      description: 'Changed files that did not parse or could not be followed (kustomizations); they block unless spec.safety.allow lists Unparsable.',
      items: { type: 'object', required: ['file', 'error'], properties: { file: { type: 'string' }, version: { type: 'string' }, error: { type: 'string' } } },
    },
    protectedKinds: { type: 'array', items: { type: 'string' } },
  },
};

/** A status list the controller cuts to its first 100 entries (src/controller/status-bounds.ts). */
const boundedList = (items: Schema, description: string): Schema => ({ type: 'array', maxItems: 100, items, description });
const count = (description: string): Schema => ({ type: 'integer', minimum: 0, description });

export const statusSchema: Schema = {
  type: 'object',
  description: 'What the controller did, in kstatus terms.',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64' },
    conditions: {
      type: 'array',
      items: conditionSchema({ description: 'A metav1.Condition: Ready, Reconciling, Stalled, Reverted, Pushed, Applied.', reasonPattern: true }),
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    revertedCommits: boundedList({ type: 'string' }, 'Commits this rollback reverted (the first 100).'),
    revertedCommitsCount: count('How many commits this rollback reverted.'),
    revertCommits: boundedList({ type: 'string' }, 'Commits pushed (the reverts or the restore commit; the first 100).'),
    revertCommitsCount: count('How many commits were pushed.'),
    alreadyReverted: boundedList({ type: 'string' }, 'Requested commits already reverted on the branch (the first 100).'),
    alreadyRevertedCount: count('How many requested commits were already reverted.'),
    changedPaths: boundedList({ type: 'string' }, 'Paths the rollback changed (the first 100).'),
    changedPathsCount: count('How many paths the rollback changed.'),
    conflicts: boundedList(
      { type: 'object', required: ['path', 'reason'], properties: { path: { type: 'string' }, reason: { type: 'string' } } },
      'Paths that did not revert cleanly, with the kind of conflict (the first 100).',
    ),
    conflictsCount: count('How many paths did not revert cleanly.'),
    requestedBy: text(
      "Who asked for the rollback, as the revert commits' Requested-By trailer says it: the rollback.gitops.dev/requested-by annotation (the requesting user, stamped by config/admission), or the GitOpsRollbackPolicy and event that created it.",
    ),
    headBefore: { type: 'string', description: 'Branch head before the rollback.' },
    headAfter: { type: 'string', description: 'Branch head after the rollback.' },
    startTime: { type: 'string', format: 'date-time' },
    completionTime: { type: 'string', format: 'date-time' },
    pushTime: { type: 'string', format: 'date-time', description: 'When the rollback commit was pushed; the wait for apply starts here.' },
    pushedBranch: { type: 'string', description: 'The branch the revert was pushed to, when not the target branch (spec.push.branch).' },
    pullRequest: {
      type: 'object',
      description: 'The pull request of spec.pullRequest, as the host reported it last.',
      required: ['provider', 'number', 'url', 'state'],
      properties: {
        provider: { type: 'string' },
        number: { type: 'integer', description: 'Its number (GitLab: the merge request iid).' },
        url: { type: 'string' },
        state: { type: 'string', enum: ['Open', 'Merged', 'Closed'] },
        mergeCommit: { type: 'string', description: 'Where the merge left the target branch.' },
        openedTime: { type: 'string', format: 'date-time' },
      },
    },
    kustomizations: {
      type: 'array',
      description: 'The Kustomizations waited for, and whether each applied the rollback commit.',
      items: {
        type: 'object',
        required: ['name', 'namespace', 'ready'],
        properties: {
          name: { type: 'string' },
          namespace: { type: 'string' },
          revision: { type: 'string', description: 'Its status.lastAppliedRevision.' },
          ready: { type: 'boolean', description: 'Applied the rollback commit and Ready.' },
          message: { type: 'string' },
        },
      },
    },
    suspendedImageUpdates: {
      type: 'array',
      description: 'ImageUpdateAutomations this rollback suspended (still suspended: resume them after the incident).',
      items: { type: 'object', required: ['name', 'namespace'], properties: { name: { type: 'string' }, namespace: { type: 'string' } } },
    },
    phases: {
      type: 'object',
      description:
        'Seconds per phase: resolve (repository and Secret), revert (fetch and compute), push, apply (push to Applied), total (creation to Applied, or to the push when nothing is awaited).',
      properties: Object.fromEntries(['resolve', 'revert', 'push', 'apply', 'total'].map((phase) => [phase, { type: 'number', minimum: 0 }])),
    },
    safety: safetyStatusSchema,
  },
};

/** What tells one of this group's CRDs from another. */
export interface CustomResourceDefinitionParts {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  printerColumns: Schema[];
  description: string;
  spec: Schema;
  status: Schema;
}

/** A namespaced CRD (apiextensions.k8s.io/v1) of GROUP serving VERSION, with a status subresource. */
export function customResourceDefinition(parts: CustomResourceDefinitionParts): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${parts.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: parts.kind,
        listKind: `${parts.kind}List`,
        plural: parts.plural,
        singular: parts.singular,
        shortNames: parts.shortNames,
        categories: ['gitops'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: parts.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: parts.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: parts.spec,
                status: parts.status,
              },
            },
          },
        },
      ],
    },
  };
}

/** The CustomResourceDefinition object (apiextensions.k8s.io/v1). */
export function buildCustomResourceDefinition(): Schema {
  return customResourceDefinition({
    kind: KIND,
    plural: PLURAL,
    singular: SINGULAR,
    shortNames: SHORT_NAMES,
    printerColumns: [
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
      { name: 'Applied', type: 'string', jsonPath: '.status.conditions[?(@.type=="Applied")].status' },
      { name: 'Revert commit', type: 'string', jsonPath: '.status.headAfter' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    description: 'GitOpsRollback reverts commits (or restores paths) in a GitOps repository, safely and auditably.',
    spec: specSchema,
    status: statusSchema,
  });
}
