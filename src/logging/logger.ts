// Structured JSON logging for the operator (pino). Credentials never appear in logs: every
// credential-ish key is censored by pino's `redact` before a line is written.
import { pino, type DestinationStream, type Logger, type LevelWithSilentOrString } from 'pino';

export type { Logger } from 'pino';

/** Keys that may hold a credential anywhere a caller logs them (top level and one level down). */
const CREDENTIAL_KEYS = ['password', 'token', 'bearerToken', 'authorization', 'Authorization', 'identity', 'cookie', 'privateKey', 'clientKey'];

/** Paths pino censors. Its wildcards match one level, so list the usual nesting explicitly. */
export const REDACT_PATHS: readonly string[] = [
  ...CREDENTIAL_KEYS,
  ...CREDENTIAL_KEYS.map((key) => `*.${key}`),
  ...CREDENTIAL_KEYS.map((key) => `*.*.${key}`),
  'headers.authorization',
  'headers.Authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'auth.password',
  'auth.token',
];

/** Replacement written in place of a redacted value. */
export const REDACTED = '[REDACTED]';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level written (trace, debug, info, warn, error, fatal, silent); default `info`. */
  level?: LevelWithSilentOrString;
  /** Fields added to every line (e.g. `{ component: 'gitops-rollback' }`). */
  base?: Record<string, unknown>;
  /** Where lines go; stdout by default. Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

/**
 * Creates the process logger: one JSON object per line on stdout, `level` as a label,
 * ISO timestamps, `msg` as the message key, and credential-ish keys redacted.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? 'info',
    // pino's default base (pid, hostname) stays unless the caller sets its own.
    ...(options.base ? { base: options.base } : {}),
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Labels ("info") read better in `kubectl logs` than pino's numbers (30).
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination ? pino(config, options.destination) : pino(config, pino.destination(1));
}

/** What identifies one reconcile in the logs. */
export interface ReconcileLogFields {
  /** Controller name, e.g. `gitopsrollback`. */
  controller: string;
  /** The object's namespace (empty for cluster-scoped objects). */
  namespace?: string;
  /** The object's name. */
  name: string;
  /** An id unique to this reconcile, to group its lines. */
  reconcileID?: string;
}

/**
 * Creates the child logger of one reconcile, following the house convention:
 * `logger.child({ controller, object: 'ns/name', reconcileID })`.
 */
export function createReconcileLogger(parent: Logger, fields: ReconcileLogFields): Logger {
  const object = fields.namespace ? `${fields.namespace}/${fields.name}` : fields.name;
  const bindings: Record<string, string> = { controller: fields.controller, object };
  if (fields.reconcileID) bindings.reconcileID = fields.reconcileID;
  return parent.child(bindings);
}
