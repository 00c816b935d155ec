/**
 * `gitops-rollback rollback --kustomization [NS/]NAME (--to-last-healthy | --to REVISION)`: the
 * one command of an incident. Reads the Kustomization (and the GitOpsRollbackPolicies of its
 * namespace), chooses the range to revert (./rollback-target.ts), creates the GitOpsRollback the
 * operator carries out, prints its name, and with --wait follows it to the end
 * (./follow-rollback.ts). The cluster is reached as kubectl reaches it (./cluster-access.ts).
 */
import { parseArgs } from 'node:util';
import { shortSha } from '../short-sha.js';
import { connectCluster, splitReference, type OnCallCluster } from './cluster-access.js';
import { followRollback, type FollowIo } from './follow-rollback.js';
import { buildKustomizationRollback, chooseRollbackTarget } from './rollback-target.js';
import { UsageError } from './usage-error.js';

export const ROLLBACK_USAGE = `Usage:
  gitops-rollback rollback --kustomization [<namespace>/]<name> (--to-last-healthy | --to <sha>)
                           [--reason TEXT] [--incident ID] [--dry-run] [--wait] [--timeout DURATION]
                           [--kubeconfig FILE]
  Creates a GitOpsRollback reverting the Kustomization's source from the last healthy revision
  (Flux's status.history, then the GitOpsRollbackPolicy records) or --to <sha>, exclusive, up to
  the revision Flux applies now, limited to the Kustomization's path and squashed, and prints its
  name. --wait follows it: each phase as it happens; exit 0 Ready, 1 Stalled, 2 not finished in
  --timeout (default 15m) or bad input. The namespace defaults to the kubeconfig context's.`;

const OPTIONS = {
  kustomization: { type: 'string' },
  'to-last-healthy': { type: 'boolean', default: false },
  to: { type: 'string' },
  reason: { type: 'string' },
  incident: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  wait: { type: 'boolean', default: false },
  timeout: { type: 'string', default: '15m' },
  kubeconfig: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface CommandIo {
  out: FollowIo;
  err: (text: string) => void;
  /** Test seam: the cluster (default: the kubeconfig's). */
  connect?: (kubeconfig?: string) => OnCallCluster;
  pollIntervalMs?: number;
}

export async function runRollbackCommand(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    io.err(`gitops-rollback: ${(error as Error).message}\n\n${ROLLBACK_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out.write(`${ROLLBACK_USAGE}\n`);
    return 0;
  }
  try {
    if (!values.kustomization) throw new UsageError('--kustomization is required');
    if (values['to-last-healthy'] === (values.to !== undefined)) throw new UsageError('Give exactly one of --to-last-healthy and --to <sha>');
    const timeoutMs = parseWaitTimeout(values.timeout);
    const cluster = (io.connect ?? connectCluster)(values.kubeconfig);
    const { namespace, name } = splitReference(values.kustomization, cluster.defaultNamespace);
    const kustomization = await cluster.getKustomization(namespace, name);
    if (!kustomization) throw new UsageError(`Kustomization ${namespace}/${name} was not found`);
    const target = chooseRollbackTarget(kustomization, values.to === undefined ? await cluster.listPolicies(namespace) : [], { to: values.to });
    const rollback = buildKustomizationRollback(kustomization, target, { reason: values.reason, incident: values.incident, dryRun: values['dry-run'] });
    const created = await cluster.createRollback(rollback);
    const createdName = created.metadata.name!;
    io.out.write(
      `gitopsrollback.rollback.gitops.dev/${createdName} created in ${namespace}: reverting ${shortSha(target.from)}..${shortSha(target.to)} ` +
        `(last healthy from ${target.source})${values['dry-run'] ? ' as a dry run' : ''}\n`,
    );
    if (!values.wait) return 0;
    return await followRollback(() => cluster.getRollback(namespace, createdName), io.out, { timeoutMs, pollIntervalMs: io.pollIntervalMs ?? 1000 });
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`gitops-rollback: ${error.message}\n`);
      return 2;
    }
    io.err(`gitops-rollback: ${describeClusterError(error)}\n`);
    return 2;
  }
}

/** 30s, 15m, 1h (or bare seconds). */
function parseWaitTimeout(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(value);
  if (!match) throw new UsageError(`--timeout must be a duration such as 90s, 15m or 1h, got "${value}"`);
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 's' | 'm' | 'h'];
}

/** An API error as one line: the status and the server's message, never the request's headers. */
function describeClusterError(error: unknown): string {
  const e = error as { code?: unknown; body?: unknown; message?: string };
  if (typeof e.code === 'number') {
    let reason = '';
    try {
      reason = (JSON.parse(String(e.body)) as { message?: string }).message ?? '';
    } catch {
      // Not JSON: the status alone.
    }
    return `the Kubernetes API answered HTTP ${e.code}${reason ? `: ${reason}` : ''}`;
  }
  return e.message ?? String(error);
}
