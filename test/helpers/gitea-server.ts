/**
 * A real Gitea for tests (the git host of pull-request mode): the binary built by
 * test/envtest/provide-gitea.sh (Jest's global setup provides it), run on a free loopback port
 * with SQLite in a temporary directory, an admin user and an API token made with Gitea's own
 * CLI. Repositories are created, and pull requests merged or closed, through its REST API.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { provideGitea } from '../envtest/binaries.js';
import { findFreePorts } from '../envtest/free-ports.js';
import { readLogTail, spawnDaemon, type Daemon } from '../envtest/processes.js';
import { eventually } from './eventually.js';
import { gitEnv, makeTempDir } from './git-cli.js';

const run = promisify(execFile);

export interface GiteaServer {
  /** e.g. http://127.0.0.1:43123 (no trailing slash). */
  baseUrl: string;
  username: string;
  password: string;
  /** An API token of the admin user (scopes: all); git over HTTP accepts it as a password too. */
  token: string;
  /** The clone URL of `<owner>/<name>`. */
  repoUrl(name: string): string;
  /**
   * Runs the git CLI in `cwd` against Gitea as the admin user: the token travels in an
   * http.extraHeader, so it never shows in git's output or in an error's command line.
   */
  git(cwd: string, ...args: string[]): string;
  /** Creates an empty repository of the admin user, default branch main. */
  createRepository(name: string): Promise<void>;
  /** Calls the REST API (`path` after /api/v1) as the admin user; throws unless 2xx. */
  api<T>(method: string, path: string, body?: object): Promise<T>;
  logs(): string;
  stop(): Promise<void>;
}

export async function startGitea(): Promise<GiteaServer> {
  const binDir = await provideGitea();
  const dir = makeTempDir('gitea-');
  const [port] = await findFreePorts(1);
  const baseUrl = `http://127.0.0.1:${port}`;
  const config = join(dir, 'app.ini');
  writeFileSync(config, appIni(dir, port!, join(binDir, 'static')));
  mkdirSync(join(dir, 'log'));
  const gitea = (...args: string[]) => run(join(binDir, 'gitea'), ['--config', config, '--work-path', dir, ...args], { cwd: dir, encoding: 'utf8' });

  await gitea('migrate');
  const username = 'rollback-admin';
  const password = 'g1tea-Admin-pw';
  await gitea(
    'admin',
    'user',
    'create',
    '--admin',
    '--username',
    username,
    '--password',
    password,
    '--email',
    'admin@example.com',
    '--must-change-password=false',
  );
  // Gitea may log a warning on stdout first (running as root): the token is the last line.
  const printed = (await gitea('admin', 'user', 'generate-access-token', '--username', username, '--scopes', 'all', '--raw')).stdout;
  const token = printed.trim().split('\n').at(-1)!.trim();
  if (!/^[0-9a-f]{40}$/.test(token)) throw new Error('gitea admin user generate-access-token printed no token on its last line');

  const daemon: Daemon = spawnDaemon('gitea', join(binDir, 'gitea'), ['--config', config, '--work-path', dir, 'web'], join(dir, 'gitea.log'));
  const logs = () => readLogTail(daemon.logPath, 60);
  await eventually(
    `Gitea at ${baseUrl} healthy`,
    async () => {
      const res = await fetch(`${baseUrl}/api/healthz`);
      return res.ok;
    },
    { timeoutMs: 120_000, diagnostics: logs, abort: daemon.exited.then((code) => `gitea exited (${code})`) },
  );

  const api = async <T>(method: string, path: string, body?: object): Promise<T> => {
    const res = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `token ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Gitea API ${method} ${path}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    baseUrl,
    username,
    password,
    token,
    repoUrl: (name) => `${baseUrl}/${username}/${name}.git`,
    git: (cwd, ...args) => {
      // Configuration from the environment (GIT_CONFIG_*): not on the command line an error would print.
      const header = `Authorization: Basic ${Buffer.from(`${username}:${token}`).toString('base64')}`;
      const env = gitEnv({ GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: header });
      return execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    },
    createRepository: async (name) => {
      await api('POST', '/user/repos', { name, default_branch: 'main', auto_init: false, private: true });
    },
    api,
    logs,
    stop: () => daemon.stop(),
  };
}

/** A minimal production-mode configuration: SQLite, no SSH, no mail, nothing fetched from the internet. */
function appIni(dir: string, port: number, staticRoot: string): string {
  return `APP_NAME = gitops-rollback test
RUN_MODE = prod
RUN_USER = ${userInfo().username}
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
WORK_PATH = ${dir}

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = ${port}
ROOT_URL = http://127.0.0.1:${port}/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
APP_DATA_PATH = ${dir}/data
STATIC_ROOT_PATH = ${staticRoot}

[database]
DB_TYPE = sqlite3
PATH = ${dir}/data/gitea.db

[repository]
ROOT = ${dir}/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = gitops-rollback-test-secret-key
INTERNAL_TOKEN = eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYmYiOjE3MDAwMDAwMDB9.gitops-rollback-test-internal-token

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[queue]
TYPE = channel

[mailer]
ENABLED = false

[cron]
ENABLED = false

[log]
MODE = console
LEVEL = warn
ROOT_PATH = ${dir}/log
`;
}
