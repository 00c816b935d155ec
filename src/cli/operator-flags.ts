/**
 * Every flag of the operator (dist/cli/main.js), typed, with its default and help, grouped by
 * the part of the operator that owns it, as kustomize-controller's main.go declares its flags and
 * lets option groups bind their own (`leaderelection.Options.BindFlags`, `client.Options.BindFlags`).
 * All checking of the command line happens here, before anything connects to Kubernetes.
 * README.md's flag table lists the same flags and defaults (a unit test compares them).
 */
import { DEFAULT_CACHE_MAX_BYTES } from '../git/cache-dir.js';
import { DEFAULT_TRANSFER_LIMITS } from '../git/transfer-limits.js';
import { DEFAULT_ROLLBACK_HISTORY_LIMIT } from '../controller/rollback-history.js';
import { DEFAULT_PREFETCH_INTERVAL_MS } from '../controller/cache-prefetcher.js';
import { formatDuration } from '../flux/duration.js';
import { DEFAULT_LEASE_TIMINGS } from '../kube/lease-timings.js';
import { bindAddress, bindAddressOrOff, boolean, byteSize, commaList, duration, integer, oneOf, text } from './flags/flag-kinds.js';
import { formatFlagHelp, type FlagGroup } from './flags/format-flag-help.js';
import { FlagError, parseFlags, type FlagValues } from './flags/parse-flags.js';

const seconds = (value: number) => formatDuration(value * 1000);

const KUBERNETES_FLAGS = {
  kubeconfig: {
    flag: 'kubeconfig',
    kind: text,
    unset: 'in-cluster',
    help: 'Path of a kubeconfig file; without it the in-cluster configuration (or $KUBECONFIG) is used.',
  },
  watchNamespace: { flag: 'watch-namespace', kind: text, unset: 'all', help: 'Only reconcile GitOpsRollbacks in this namespace.' },
  leaderElect: {
    flag: 'leader-elect',
    kind: boolean,
    default: 'false',
    help: 'Only the holder of the Lease --leader-election-id reconciles, so replicas can run side by side.',
  },
  leaderElectionNamespace: { flag: 'leader-election-namespace', kind: text, unset: '$POD_NAMESPACE', help: 'Namespace of the leader election Lease.' },
  leaderElectionId: { flag: 'leader-election-id', kind: text, default: 'gitops-rollback-leader', help: 'Name of the leader election Lease.' },
  leaseDurationMs: {
    flag: 'leader-election-lease-duration',
    kind: duration({ allowZero: false }),
    default: seconds(DEFAULT_LEASE_TIMINGS.leaseDurationSeconds),
    help: 'How long other replicas wait, after the leader last renewed the Lease, before they take it.',
  },
  renewDeadlineMs: {
    flag: 'leader-election-renew-deadline',
    kind: duration({ allowZero: false }),
    default: seconds(DEFAULT_LEASE_TIMINGS.renewDeadlineSeconds),
    help: 'How long the leader keeps trying to renew the Lease before it stops reconciling and exits; below the lease duration.',
  },
  retryPeriodMs: {
    flag: 'leader-election-retry-period',
    kind: duration({ allowZero: false }),
    default: seconds(DEFAULT_LEASE_TIMINGS.retryPeriodSeconds),
    help: 'Interval between attempts to take or renew the Lease; below the renew deadline.',
  },
} as const;

const RECONCILE_FLAGS = {
  concurrent: { flag: 'concurrent', kind: integer(1), default: '4', help: 'Rollbacks processed at once.' },
  applyPollIntervalMs: {
    flag: 'apply-poll-interval',
    kind: duration({ allowZero: false }),
    default: '2s',
    help: 'How often the Kustomizations are read while a rollback waits for Flux to apply it.',
  },
  mergePollIntervalMs: {
    flag: 'merge-poll-interval',
    kind: duration({ allowZero: false }),
    default: '30s',
    help: "How often an open pull request (spec.pullRequest) is read while a rollback waits for its merge (each read is one call to the host's API).",
  },
  rollbackHistoryLimit: {
    flag: 'rollback-history-limit',
    kind: integer(0),
    default: String(DEFAULT_ROLLBACK_HISTORY_LIMIT),
    help: 'Finished GitOpsRollbacks kept per GitOpsRollbackPolicy (older ones are deleted); 0 keeps all.',
  },
  shutdownTimeoutMs: {
    flag: 'shutdown-timeout',
    kind: duration({ allowZero: true }),
    default: '30s',
    help: 'How long work in flight may drain on SIGTERM, and after losing the Lease.',
  },
} as const;

const ENGINE_FLAGS = {
  cacheDir: {
    flag: 'cache-dir',
    kind: text,
    default: '/var/cache/gitops-rollback',
    help: 'Where the bare caches of the repositories live; stale lock files are removed at start.',
  },
  cacheMaxBytes: {
    flag: 'cache-max-bytes',
    kind: byteSize({ allowZero: true }),
    default: String(DEFAULT_CACHE_MAX_BYTES),
    help: "Byte budget of the caches (least recently used are evicted); keep it below the volume's sizeLimit.",
  },
  cachePrefetchIntervalMs: {
    flag: 'cache-prefetch-interval',
    kind: duration({ allowZero: true }),
    default: formatDuration(DEFAULT_PREFETCH_INTERVAL_MS),
    help: 'How often the repositories of the GitRepositories that policies cover (and --cache-prefetch-selector picks) are fetched into the cache, at start and then on this period; 0 turns prefetching off.',
  },
  cachePrefetchSelector: {
    flag: 'cache-prefetch-selector',
    kind: text,
    unset: 'none',
    help: 'Also prefetch every GitRepository matching this label selector (e.g. rollback.gitops.dev/prefetch=true).',
  },
  engineDeadlineMs: {
    flag: 'engine-deadline',
    kind: duration({ allowZero: false }),
    default: '10m',
    help: 'Total time one engine run (in its own worker process) may take before it is stopped.',
  },
  engineMemoryLimitMb: { flag: 'engine-memory-limit', kind: integer(1), default: '256', help: "Heap limit of an engine run's worker process, in MiB." },
} as const;

const GIT_NETWORK_FLAGS = {
  gitTimeoutMs: { flag: 'git-timeout', kind: duration({ allowZero: false }), default: '60s', help: 'Inactivity limit of each network call to a git server.' },
  gitDeadlineMs: {
    flag: 'git-deadline',
    kind: duration({ allowZero: false }),
    default: formatDuration(DEFAULT_TRANSFER_LIMITS.deadlineMs),
    help: 'Total time of one fetch, deepen or push, however steadily the server trickles.',
  },
  gitMaxPackBytes: { flag: 'git-max-pack-size', kind: byteSize({ allowZero: false }), default: '128Mi', help: 'Bytes one fetched pack may hold.' },
  gitMaxObjectBytes: {
    flag: 'git-max-object-size',
    kind: byteSize({ allowZero: false }),
    default: '32Mi',
    help: 'Bytes one object of a fetched pack may declare or inflate to (a delta: its result).',
  },
  // Tenants choose repository URLs, so internal hosts and http:// are refused unless allowed.
  allowPrivateGitHosts: {
    flag: 'allow-private-git-hosts',
    kind: boolean,
    default: 'false',
    help: 'Allow repositories on loopback, private, link-local and IPv6 ULA addresses.',
  },
  allowInsecureHttp: { flag: 'allow-insecure-http', kind: boolean, default: 'false', help: 'Allow plain http:// repository URLs.' },
  gitAllowedHosts: {
    flag: 'git-allowed-hosts',
    kind: commaList,
    default: '',
    unset: 'any',
    help: 'Comma-separated hosts (or *.domain) repositories may live on; empty: any public host.',
  },
} as const;

const SAFETY_FLAGS = {
  protectedKinds: {
    flag: 'safety-protected-kinds',
    kind: commaList,
    default: '',
    unset: 'none',
    help: 'Comma-separated kinds the safety gate protects besides CRD, PVC, PV and Namespace.',
  },
  allowCrossNamespaceRefs: {
    flag: 'allow-cross-namespace-refs',
    kind: boolean,
    default: 'false',
    help: "Allow a rollback's sourceRef in another namespace (the GitRepository must also consent).",
  },
  allowCrossNamespacePolicies: {
    flag: 'allow-cross-namespace-policies',
    kind: boolean,
    default: 'false',
    help: 'Let a GitOpsRollbackPolicy name Kustomizations outside its own namespace.',
  },
} as const;

const SERVING_FLAGS = {
  healthProbeAddress: { flag: 'health-probe-bind-address', kind: bindAddress, default: ':8081', help: 'Where /healthz and /readyz are served.' },
  metricsAddress: { flag: 'metrics-bind-address', kind: bindAddressOrOff, default: ':8080', help: 'Where Prometheus /metrics is served; 0 turns it off.' },
  metricsAuth: {
    flag: 'metrics-auth',
    kind: boolean,
    default: 'true',
    help: '/metrics needs a bearer token allowed to get /metrics (TokenReview + SubjectAccessReview); --no-metrics-auth opens it.',
  },
  webhookAddress: {
    flag: 'webhook-bind-address',
    kind: bindAddressOrOff,
    default: ':9292',
    help: 'Where the receiver of automated rollback triggers (Flux, Alertmanager) listens; 0 turns it off.',
  },
  logLevel: {
    flag: 'log-level',
    kind: oneOf('level', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    default: 'info',
    help: 'Least level of the JSON log lines written.',
  },
} as const;

/** The flags under the headings --help prints them in. */
export const OPERATOR_FLAG_GROUPS: readonly FlagGroup[] = [
  { title: 'Kubernetes & leader election', flags: KUBERNETES_FLAGS },
  { title: 'Reconciling', flags: RECONCILE_FLAGS },
  { title: 'Engine', flags: ENGINE_FLAGS },
  { title: 'Git network', flags: GIT_NETWORK_FLAGS },
  { title: 'Safety & tenancy', flags: SAFETY_FLAGS },
  { title: 'Metrics, probes, webhook & logs', flags: SERVING_FLAGS },
];

export const OPERATOR_FLAGS = { ...KUBERNETES_FLAGS, ...RECONCILE_FLAGS, ...ENGINE_FLAGS, ...GIT_NETWORK_FLAGS, ...SAFETY_FLAGS, ...SERVING_FLAGS };

/** The operator's settings from its command line: durations in ms, sizes in bytes. */
export type OperatorOptions = FlagValues<typeof OPERATOR_FLAGS> & {
  /** --leader-election-namespace, else $POD_NAMESPACE; set whenever leaderElect is. */
  readonly leaderElectionNamespace: string | undefined;
};

export const OPERATOR_HELP_INTRO = `The gitops-rollback operator: reconciles GitOpsRollback and GitOpsRollbackPolicy objects.

Usage: node dist/cli/main.js [flags]

Durations are Go durations (90s, 5m, 1h30m, 500ms) or a number of seconds; sizes are bytes or a
number with Ki, Mi or Gi. A boolean flag is cleared by --no-<flag>; the last one given wins.`;

/** The text `--help` prints. */
export function formatOperatorHelp(): string {
  return formatFlagHelp(OPERATOR_HELP_INTRO, OPERATOR_FLAG_GROUPS);
}

/**
 * The operator's options from `argv` (without node and the script), or `help` when it asks for
 * --help. `env` supplies POD_NAMESPACE for the Lease. Throws {@link FlagError} on anything the
 * operator cannot run with.
 */
export function parseOperatorFlags(argv: readonly string[], env: NodeJS.ProcessEnv): { help: true } | { help: false; options: OperatorOptions } {
  const parsed = parseFlags(OPERATOR_FLAGS, argv);
  if (parsed.help) return parsed;
  const options = { ...parsed.values, leaderElectionNamespace: parsed.values.leaderElectionNamespace ?? env.POD_NAMESPACE };
  validateLeaderElection(options);
  validatePrefetchSelector(options.cachePrefetchSelector);
  return { help: false, options };
}

/** The Lease needs a namespace, and its timings must nest as client-go requires: lease > renew > retry. */
function validateLeaderElection(options: OperatorOptions): void {
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = options;
  // The Lease object records it as whole seconds (spec.leaseDurationSeconds).
  if (leaseDurationMs % 1000 !== 0) throw new FlagError('--leader-election-lease-duration', `must be whole seconds (got ${formatDuration(leaseDurationMs)})`);
  if (!(leaseDurationMs > renewDeadlineMs)) {
    throw new FlagError(
      '--leader-election-lease-duration',
      `must be longer than --leader-election-renew-deadline (${formatDuration(leaseDurationMs)} <= ${formatDuration(renewDeadlineMs)})`,
    );
  }
  if (!(renewDeadlineMs > retryPeriodMs)) {
    throw new FlagError(
      '--leader-election-renew-deadline',
      `must be longer than --leader-election-retry-period (${formatDuration(renewDeadlineMs)} <= ${formatDuration(retryPeriodMs)})`,
    );
  }
  if (options.leaderElect && !options.leaderElectionNamespace) throw new FlagError('--leader-elect', 'needs --leader-election-namespace or POD_NAMESPACE');
}

/** One requirement of a Kubernetes label selector: `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (a,b)`, `key notin (a,b)`. */
const SELECTOR_KEY = '(?:[A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?';
const SELECTOR_VALUE = '([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?';
const SELECTOR_REQUIREMENT = new RegExp(
  `^\\s*(!?${SELECTOR_KEY}|${SELECTOR_KEY}\\s*(=|==|!=)\\s*${SELECTOR_VALUE}|${SELECTOR_KEY}\\s+(in|notin)\\s*\\(\\s*${SELECTOR_VALUE}(\\s*,\\s*${SELECTOR_VALUE})*\\s*\\))\\s*$`,
);

/** A selector the API server would refuse fails at start, not on every prefetch pass. */
function validatePrefetchSelector(selector: string | undefined): void {
  if (selector === undefined) return;
  // Requirements are separated by commas outside the parentheses of a set.
  const requirements = selector.split(/,(?![^(]*\))/);
  if (selector.length > 1024 || !requirements.every((requirement) => SELECTOR_REQUIREMENT.test(requirement))) {
    throw new FlagError('--cache-prefetch-selector', `is not a label selector (got ${JSON.stringify(selector.slice(0, 100))})`);
  }
}
