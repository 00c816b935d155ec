/**
 * The built CLI on repositories that fail in the engine: exit 2, the typed error's code in
 * `--output json`, a message that says what to do, and never "Unexpected error". Needs
 * `npm run build` first.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commitFiles, git, gitEnv, initRepo, makeTempDir } from '../helpers/git-cli.js';

const CLI = path.resolve('dist/cli/gitops-rollback.js');

function runCli(args: string[]): Promise<{ code: number; stderr: string; error: { code: string; message: string } }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args, '--output', 'json'],
      { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: makeTempDir() } },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? -1) : 0;
        const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { error?: { code: string; message: string } };
        resolve({ code, stderr, error: report.error ?? { code: '', message: '' } });
      },
    );
  });
}

/** A bare repository with loose objects of its own (not hard-linked to the work tree's). */
function pushedBare(work: string): string {
  const bare = path.join(makeTempDir(), 'repo.git');
  git(path.dirname(bare), 'init', '-q', '--bare', bare);
  git(work, 'push', '-q', bare, 'main');
  return bare;
}

describe('engine failures through the CLI', () => {
  let work: string;
  let bad: string;
  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    work = initRepo();
    commitFiles(work, 'Deploy 1', { 'apps/web.yaml': 'v: 1\n' });
    bad = commitFiles(work, 'Deploy 2', { 'apps/web.yaml': 'v: 2\n' });
  });

  const cases: [string, () => string[], string, string][] = [
    [
      'a cache directory that is a file',
      () => {
        const file = path.join(makeTempDir(), 'file');
        fs.writeFileSync(file, 'x');
        return ['revert', '--repo', pushedBare(work), '--commit', bad, '--cache-dir', file];
      },
      'StorageError',
      'choose a directory',
    ],
    [
      'a corrupt object in the repository',
      () => {
        const bare = pushedBare(work);
        const object = path.join(bare, 'objects', bad.slice(0, 2), bad.slice(2));
        fs.chmodSync(object, 0o644);
        fs.writeFileSync(object, 'garbage');
        return ['revert', '--repo', bare, '--commit', 'HEAD', '--cache-dir', makeTempDir()];
      },
      'CorruptRepositoryError',
      'git fsck',
    ],
    [
      'history of a repository whose tree names a file .git',
      () => {
        const bare = pushedBare(work);
        const blob = git(bare, 'rev-parse', 'main:apps/web.yaml');
        const tree = execFileSync('git', ['mktree'], { cwd: bare, env: gitEnv(), input: `100644 blob ${blob}\t.git\n`, encoding: 'utf8' }).trim();
        git(bare, 'update-ref', 'refs/heads/main', git(bare, 'commit-tree', tree, '-p', 'main', '-m', 'evil'));
        return ['history', '--repo', bare, '--cache-dir', makeTempDir()];
      },
      'CorruptRepositoryError',
      'revert by hand',
    ],
    [
      'HEAD~N past the first commit',
      () => ['revert', '--repo', pushedBare(work), '--commit', 'HEAD~5', '--cache-dir', makeTempDir()],
      'CommitNotFoundError',
      'count fewer commits',
    ],
  ];

  test.each(cases)('%s exits 2 with the typed error and what to do', async (_name, args, code, advice) => {
    const run = await runCli(args());
    expect(run.code).toBe(2);
    expect(run.error.code).toBe(code);
    expect(run.error.message).toContain(advice);
    expect(run.stderr).toContain(advice);
    expect(run.stderr).not.toContain('Unexpected error');
  });

  test('a backwards range of commits made in the same second is empty, exit 2, and nothing is reverted', async () => {
    const same = initRepo();
    const env = gitEnv({ GIT_AUTHOR_DATE: '1700000000 +0000', GIT_COMMITTER_DATE: '1700000000 +0000' });
    for (let i = 1; i <= 3; i++) {
      fs.writeFileSync(path.join(same, `f${i}.yaml`), `v: ${i}\n`);
      execFileSync('git', ['add', '-A'], { cwd: same, env });
      execFileSync('git', ['commit', '-q', '-m', `c${i}`], { cwd: same, env });
    }
    const bare = pushedBare(same);
    const head = git(bare, 'rev-parse', 'main');
    const run = await runCli(['revert', '--repo', bare, '--range', 'HEAD..HEAD~1', '--cache-dir', makeTempDir()]);
    expect(run.code).toBe(2);
    expect(run.error).toMatchObject({ code: 'InvalidRequestError', message: 'Range HEAD..HEAD~1 contains no commits' });
    expect(git(bare, 'rev-parse', 'main')).toBe(head);
  });
});
