#!/usr/bin/env node
/**
 * The operator's entry point: the flags first (the only place that reads flags and environment),
 * so --help and a bad flag answer at once, before the Kubernetes client and the rest of the
 * operator are loaded; then ./operator.ts builds the parts and runs them.
 */
import { FlagError } from './flags/parse-flags.js';
import { formatOperatorHelp, parseOperatorFlags, type OperatorOptions } from './operator-flags.js';

async function main(): Promise<void> {
  const options = readOptionsOrExit(process.argv.slice(2));
  if (!options) return;
  const { runOperator } = await import('./operator.js');
  await runOperator(options);
}

/**
 * The options of the command line, or undefined when the process should end without running:
 * --help printed (exit 0), or a bad flag reported on stderr (exit 2, as Go's flag package does).
 */
function readOptionsOrExit(argv: string[]): OperatorOptions | undefined {
  try {
    const parsed = parseOperatorFlags(argv, process.env);
    if (!parsed.help) return parsed.options;
    process.stdout.write(formatOperatorHelp());
    process.exitCode = 0;
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    process.stderr.write(`${error.message}\nRun with --help to list the flags.\n`);
    process.exitCode = 2;
  }
  return undefined;
}

main().then(
  // A graceful stop, --help (0) or a bad flag (2, set as process.exitCode).
  () => process.exit(),
  (error: unknown) => {
    // Lost the Lease (LeadershipLostError, src/kube/leader-election.ts): already logged; exit so a
    // fresh start can never write beside the new leader.
    if ((error as { code?: unknown } | undefined)?.code !== 'LeadershipLostError') {
      process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: 'Operator failed to start', err: (error as Error).message })}\n`);
    }
    process.exit(1);
  },
);
