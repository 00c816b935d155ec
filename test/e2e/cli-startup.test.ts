/**
 * The CLI's start-up (docs/benchmarks.md, "CLI start-up"): which modules each command loads, and
 * that the compile cache never breaks the CLI. Module loading is recorded by a child process run
 * with `--import` of a hook that writes every resolved URL to a file; no timing is asserted.
 * Needs `npm run build` first (npm test does it).
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { enableCliCompileCache, unsafeCacheRootReason } from '../../src/cli/compile-cache.js';

const CLI = path.resolve('dist/cli/gitops-rollback.js');
const ENGINE_PACKAGES = ['isomorphic-git', 'openpgp', 'ssh2', 'yaml'];
/** isomorphic-git is a devDependency now: the engine has its own reader, fetch, refs and writes. */
const NEVER_FOR_REVERT = ['@kubernetes/client-node', 'pino', 'prom-client', 'isomorphic-git'];
/** Loaded only by a run that signs (--signing-key) or reaches an SSH URL. */
const ONLY_TO_SIGN_OR_SSH = ['openpgp', 'ssh2'];

let tmp: string;
let hook: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-startup-'));
  hook = path.join(tmp, 'record-modules.mjs');
  fs.writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
const out = process.env.RECORD_MODULES;
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); appendFileSync(out, r.url + '\\n'); return r; } });
`,
  );
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string; modules: string[] }> {
  const record = path.join(tmp, `modules-${Math.random().toString(36).slice(2)}.txt`);
  fs.writeFileSync(record, '');
  const nodeArgs = ['--import', pathToFileURL(hook).href, CLI, ...args];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      nodeArgs,
      { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, HOME: tmp, TMPDIR: tmp, RECORD_MODULES: record, ...env } },
      (error, stdout, stderr) => {
        const modules = fs.readFileSync(record, 'utf8').split('\n').filter(Boolean);
        resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, stdout, stderr, modules });
      },
    );
  });
}

/** The packages (node_modules/<name>) among the loaded modules. */
function packages(modules: string[]): Set<string> {
  const names = new Set<string>();
  for (const url of modules) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (match) names.add(match[1]);
  }
  return names;
}

function git(cwd: string, ...args: string[]): string {
  const env = {
    PATH: process.env.PATH,
    HOME: tmp,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'T',
    GIT_AUTHOR_EMAIL: 't@example.com',
    GIT_COMMITTER_NAME: 'T',
    GIT_COMMITTER_EMAIL: 't@example.com',
  };
  return execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();
}

describe('CLI start-up: modules loaded', () => {
  test('--help loads none of the engine packages', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('gitops-rollback revert');
    expect(run.modules.some((url) => url.endsWith('/dist/cli/args.js'))).toBe(true); // the hook saw the CLI's own modules
    const loaded = packages(run.modules);
    for (const name of [...ENGINE_PACKAGES, ...NEVER_FOR_REVERT]) expect(loaded.has(name)).toBe(false);
    expect(run.modules.some((url) => url.endsWith('/dist/git/engine.js'))).toBe(false);
  });

  test('revert --dry-run loads the engine, but not the Kubernetes client, the logger, metrics or the pull-request modules', async () => {
    const work = path.join(tmp, 'repo');
    fs.mkdirSync(work);
    git(work, 'init', '-q', '-b', 'main');
    fs.writeFileSync(path.join(work, 'app.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: "1"\n');
    git(work, 'add', '.');
    git(work, 'commit', '-q', '-m', 'one');
    fs.writeFileSync(path.join(work, 'app.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: "2"\n');
    git(work, 'commit', '-q', '-am', 'two');
    const bad = git(work, 'rev-parse', 'HEAD');
    const bare = path.join(tmp, 'repo.git');
    git(tmp, 'clone', '-q', '--bare', work, bare);

    const run = await runCli([
      'revert',
      '--repo',
      bare,
      '--commit',
      bad,
      '--author',
      'T <t@example.com>',
      '--cache-dir',
      path.join(tmp, 'cache'),
      '--output',
      'json',
      '--dry-run',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as { result: string }).result).toBe('planned');
    const loaded = packages(run.modules);
    expect(run.modules.some((url) => url.endsWith('/dist/git/engine.js'))).toBe(true);
    for (const name of [...NEVER_FOR_REVERT, ...ONLY_TO_SIGN_OR_SSH]) expect(loaded.has(name)).toBe(false);
    expect(run.modules.some((url) => url.includes('/dist/pull-request/') || url.includes('/dist/kube/'))).toBe(false);
  });
});

describe('CLI start-up: compile cache', () => {
  test('the CLI runs when the temporary directory is missing, unusable or the cache is disabled', async () => {
    const cases: NodeJS.ProcessEnv[] = [{ TMPDIR: path.join(tmp, 'missing', 'tmp') }, { NODE_DISABLE_COMPILE_CACHE: '1' }];
    // Under /proc mkdir answers ENOENT; Node 24.21's own recursive mkdir loops forever there.
    if (fs.existsSync('/proc/self')) cases.push({ TMPDIR: '/proc' });
    for (const env of cases) {
      const run = await runCli(['--help'], env);
      expect({ env, code: run.code }).toEqual({ env, code: 0 });
      expect(run.stdout).toContain('gitops-rollback revert');
    }
  });

  test('fills the default directory under TMPDIR, made 0700, and reuses it', async () => {
    const tmpdir = path.join(tmp, 'own-tmp');
    fs.mkdirSync(tmpdir);
    expect((await runCli(['--help'], { TMPDIR: tmpdir })).code).toBe(0);
    const root = path.join(tmpdir, 'node-compile-cache');
    expect(fs.statSync(root).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(root).length).toBeGreaterThan(0);
    expect((await runCli(['--help'], { TMPDIR: tmpdir })).code).toBe(0);
  });

  test('a shared root that others can write to, or that is not a directory, is not used', () => {
    const dir = path.join(tmp, 'roots');
    fs.mkdirSync(dir);
    const own = path.join(dir, 'own');
    fs.mkdirSync(own, { mode: 0o700 });
    fs.chmodSync(own, 0o700);
    const uid = fs.statSync(own).uid;
    expect(unsafeCacheRootReason(own, uid)).toBeUndefined();
    expect(unsafeCacheRootReason(path.join(dir, 'absent'), uid)).toBeUndefined();
    expect(unsafeCacheRootReason(own, uid + 1)).toMatch(/another user/);
    const open = path.join(dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    expect(unsafeCacheRootReason(open, uid)).toMatch(/writable by other users/);
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, '');
    expect(unsafeCacheRootReason(file, uid)).toMatch(/not a directory/);
    fs.symlinkSync(own, path.join(dir, 'link'));
    expect(unsafeCacheRootReason(path.join(dir, 'link'), uid)).toMatch(/not a directory/);
  });

  test('NODE_DISABLE_COMPILE_CACHE is respected', () => {
    expect(enableCliCompileCache({ NODE_DISABLE_COMPILE_CACHE: '1' })).toEqual({ status: 'disabled' });
  });
});
