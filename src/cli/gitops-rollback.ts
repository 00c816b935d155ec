#!/usr/bin/env node
/**
 * The gitops-rollback CLI: the same engine as the operator, without a cluster.
 * Exit status: 0 done (reverted, planned, already-reverted, empty), 1 conflict, 2 bad input or error.
 *
 * Start-up: this file imports only compile-cache.ts (node: built-ins) statically. It enables
 * Node's module compile cache first, then loads each command's modules with a dynamic import, so
 * that they are compiled with the cache and `--help`, `request`, `history` and `rollback` do not
 * load the revert engine (and OpenPGP.js, ssh2, yaml). See docs/benchmarks.md,
 * "CLI start-up".
 */
import { enableCliCompileCache } from './compile-cache.js';

enableCliCompileCache();

async function main(argv: string[]): Promise<number> {
  // --help after a command that has its own (rollback) is that command's; elsewhere the whole usage.
  const ownHelp = argv[0] === 'rollback';
  if (!argv.length || (!ownHelp && (argv.includes('--help') || argv.includes('-h')))) {
    const { USAGE } = await import('./args.js');
    process.stdout.write(`${USAGE}\n`);
    return argv.length ? 0 : 2;
  }
  if (argv[0] === 'request') return printRequest(argv.slice(1));
  if (argv[0] === 'history') return (await import('./history.js')).runHistory(argv.slice(1));
  if (argv[0] === 'rollback') return rollbackKustomization(argv.slice(1));
  return (await import('./revert-command.js')).runRevertCommand(argv);
}

/** `rollback --kustomization`: loaded only for this command (it needs the Kubernetes client). */
async function rollbackKustomization(args: string[]): Promise<number> {
  const { runRollbackCommand } = await import('./rollback-command.js');
  const out = { write: (text: string) => void process.stdout.write(text), isTTY: process.stdout.isTTY === true };
  return runRollbackCommand(args, { out, err: (text) => void process.stderr.write(text) });
}

/**
 * `request`: prints the GitOpsRollback manifest on stdout; nothing is rolled back. Its module
 * (and the `yaml` package) is loaded only for this command, to keep `revert` start-up short.
 */
async function printRequest(args: string[]): Promise<number> {
  const [{ buildRequestManifest, formatManifest }, { USAGE, UsageError }] = await Promise.all([import('./request.js'), import('./args.js')]);
  try {
    const manifest = buildRequestManifest(args);
    process.stdout.write(formatManifest(manifest));
    if (manifest.metadata.generateName) process.stderr.write('gitops-rollback: with --generate-name, use kubectl create -f - (kubectl apply needs a --name)\n');
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`gitops-rollback: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`gitops-rollback: ${(error as Error).message}\n`);
    process.exitCode = 2;
  },
);
