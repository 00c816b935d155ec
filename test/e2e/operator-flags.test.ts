/**
 * The built operator's command line, as a container runtime starts it: --help and a bad flag end
 * the process before any kubeconfig is read, so neither needs a cluster. Needs `npm run build`.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { makeTempDir } from '../helpers/git-cli.js';
import { OPERATOR_ENTRY } from '../helpers/operator-process.js';
import { OPERATOR_FLAGS } from '../../src/cli/operator-flags.js';

/** Runs the operator with no kubeconfig anywhere (no KUBECONFIG, an empty HOME). */
function runOperator(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [OPERATOR_ENTRY, ...args],
      { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: makeTempDir() } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
      },
    );
  });
}

describe('operator command line', () => {
  beforeAll(() => {
    if (!fs.existsSync(OPERATOR_ENTRY)) throw new Error(`${OPERATOR_ENTRY} is missing: run npm run build first`);
  });

  test('--help lists every flag on stdout and exits 0', async () => {
    const run = await runOperator(['--help']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    for (const spec of Object.values(OPERATOR_FLAGS)) expect(run.stdout).toMatch(new RegExp(`^ {2}--${spec.flag}\\b`, 'm'));
    expect(run.stdout).toContain('(default: 60s)');
  });

  test('a bad value exits 2 with one line naming the flag, then a usage hint', async () => {
    const run = await runOperator(['--git-timeout=abc']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const [message, hint, ...rest] = run.stderr.split('\n');
    expect(message).toMatch(/^--git-timeout: invalid value "abc": expected a duration such as 90s, 5m/);
    expect(hint).toBe('Run with --help to list the flags.');
    expect(rest).toEqual(['']);
  });
});
