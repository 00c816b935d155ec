/**
 * The OpenAPI v3 schema of GitOpsRollbackPolicy: the source of its CRD YAML (`npm run manifests`).
 * Descriptions show in `kubectl explain`.
 */
import {
  DEFAULT_COOLDOWN,
  DEFAULT_KUSTOMIZATION_LABEL,
  DEFAULT_TRIGGER_REASONS,
  POLICY_KIND,
  POLICY_PLURAL,
  POLICY_SHORT_NAMES,
  POLICY_SINGULAR,
} from './policy-types.js';
import { conditionSchema, customResourceDefinition, DURATION_PATTERN, incidentSchema, type Schema } from './schema.js';

/** Go durations as Flux writes them: `30s`, `15m`, `1h30m`. */
const duration = (description: string): Schema => ({ type: 'string', pattern: DURATION_PATTERN, description });
const name = (description: string): Schema => ({ type: 'string', minLength: 1, maxLength: 253, description });
const stringMap = (description: string): Schema => ({ type: 'object', additionalProperties: { type: 'string' }, description });

const labelSelector: Schema = {
  type: 'object',
  description: 'A label selector (metav1.LabelSelector) over the Kustomizations.',
  'x-kubernetes-map-type': 'atomic',
  properties: {
    matchLabels: stringMap('Labels a Kustomization must carry.'),
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string' },
          operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
};

export const policySpecSchema: Schema = {
  type: 'object',
  description: 'Which Flux Kustomizations may be rolled back automatically, on which signals, how often.',
  // secretRef is required: the receiver fails closed and never acts on an unauthenticated request.
  required: ['kustomizations', 'secretRef'],
  properties: {
    kustomizations: {
      type: 'object',
      description: 'The Kustomizations covered: those named, and those the selector matches.',
      'x-kubernetes-validations': [{ rule: 'has(self.names) || has(self.selector)', message: 'name Kustomizations or give a selector' }],
      properties: {
        namespace: {
          type: 'string',
          maxLength: 63,
          description:
            "Namespace of the Kustomizations; defaults to the policy's namespace. Another namespace is refused unless the operator runs with --allow-cross-namespace-policies.",
        },
        names: { type: 'array', maxItems: 100, items: name('A Kustomization name.'), description: 'Kustomizations by name.' },
        selector: labelSelector,
      },
    },
    reasons: {
      type: 'array',
      maxItems: 20,
      items: { type: 'string', minLength: 1, maxLength: 128 },
      description: `Flux event reasons that trigger a rollback (default ${DEFAULT_TRIGGER_REASONS.join(', ')}).`,
    },
    squash: { type: 'boolean', description: 'One revert commit for the whole range (default true); false for one per reverted commit.' },
    cooldown: duration(`Minimum time between two automatic rollbacks of one Kustomization (default ${DEFAULT_COOLDOWN}).`),
    rateLimit: {
      type: 'object',
      description: 'At most maxRollbacks automatic rollbacks by this policy within window.',
      required: ['maxRollbacks', 'window'],
      properties: {
        maxRollbacks: { type: 'integer', minimum: 1, maximum: 1000, description: 'Rollbacks allowed per window.' },
        window: duration('The window, e.g. 1h.'),
      },
    },
    alertmanager: {
      type: 'object',
      description: 'How Prometheus Alertmanager alerts (POST /hook/alertmanager/<namespace>/<policy>) map to Kustomizations.',
      properties: {
        matchLabels: stringMap('Alerts must carry all these labels with these values.'),
        kustomizationLabel: {
          type: 'string',
          minLength: 1,
          maxLength: 316,
          description: `The alert label naming the Kustomization (default ${DEFAULT_KUSTOMIZATION_LABEL}).`,
        },
      },
    },
    secretRef: {
      type: 'object',
      description:
        "A Secret in the policy's namespace whose `token` key verifies requests: Flux generic-hmac X-Signature, or an Alertmanager bearer token. Required: requests without a valid signature or token are refused.",
      required: ['name'],
      properties: { name: name('Name of the Secret.') },
    },
    incident: incidentSchema('Written as the "Incident:" trailer of the rollbacks (one token: letters, digits and ._:/#?=&%+@~-).'),
    suspend: { type: 'boolean', description: 'Ignore triggers without deleting the policy.' },
  },
};

export const policyStatusSchema: Schema = {
  type: 'object',
  description: 'The healthy revisions the operator saw, and the last rollback the policy created.',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64' },
    conditions: {
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: conditionSchema(),
    },
    kustomizations: {
      type: 'array',
      description: 'Per covered Kustomization: the revisions it last applied healthy (Ready=True).',
      items: {
        type: 'object',
        required: ['namespace', 'name', 'lastHealthyRevision', 'lastHealthyTime'],
        properties: {
          namespace: { type: 'string' },
          name: { type: 'string' },
          lastHealthyRevision: { type: 'string', description: 'Revision applied at the last Ready=True.' },
          previousHealthyRevision: { type: 'string', description: 'The healthy revision before it.' },
          lastHealthyTime: { type: 'string', format: 'date-time' },
        },
      },
    },
    lastRollback: {
      type: 'object',
      description: 'The last GitOpsRollback this policy created.',
      required: ['name', 'time'],
      properties: { name: { type: 'string' }, time: { type: 'string', format: 'date-time' } },
    },
  },
};

/** The CustomResourceDefinition object (apiextensions.k8s.io/v1) of GitOpsRollbackPolicy. */
export function buildPolicyCustomResourceDefinition(): Schema {
  return customResourceDefinition({
    kind: POLICY_KIND,
    plural: POLICY_PLURAL,
    singular: POLICY_SINGULAR,
    shortNames: POLICY_SHORT_NAMES,
    printerColumns: [
      { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend' },
      { name: 'Last rollback', type: 'string', jsonPath: '.status.lastRollback.name' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    description: 'GitOpsRollbackPolicy lets Flux and Alertmanager notifications roll Kustomizations back automatically, through GitOpsRollbacks it owns.',
    spec: policySpecSchema,
    status: policyStatusSchema,
  });
}
