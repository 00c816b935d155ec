/**
 * `gitops-rollback history --repo URL|PATH`: the branch's deploy history, newest first along
 * first parents, as a table for a person in an incident (`git log --first-parent --oneline` with
 * the components each commit changed and its rollback links) or one JSON object on the last line
 * of stdout for tools. Reads through src/git/deploy-history.ts; writes nothing but the cache.
 * Exit status: 0 listed (even nothing), 2 bad flags or an error.
 */
import { parseArgs } from 'node:util';
import type { DeployHistory, DeployHistoryCommit, DeployHistoryOptions, HistoryWalkEnd } from '../git/deploy-history.js';
import { DEFAULT_HISTORY_LIMIT, HISTORY_WALK_SLACK, MAX_HISTORY_LIMIT, MAX_HISTORY_PATHS, readDeployHistory } from '../git/deploy-history.js';
import { isBranchName } from '../git/branch-name.js';
import { InvalidRequestError } from '../git/errors.js';
import { isSshUrl } from '../git/ssh-url.js';
import { normalizePaths } from '../git/tree-paths.js';
import { LOCAL_NETWORK_POLICY } from '../git/url-policy.js';
import { toOneLine } from '../one-line.js';
import { shortSha } from '../short-sha.js';
import { USAGE, UsageError, defaultCacheDir, readCredentials } from './args.js';
import { readSshCredentials } from './ssh-credentials.js';
import { reportProgress } from './progress.js';

const OPTIONS = {
  repo: { type: 'string' },
  branch: { type: 'string', default: 'main' },
  path: { type: 'string', multiple: true },
  limit: { type: 'string', default: String(DEFAULT_HISTORY_LIMIT) },
  'cache-dir': { type: 'string' },
  output: { type: 'string', default: 'text' },
  timeout: { type: 'string', default: '60' },
  kustomization: { type: 'string' },
  kubeconfig: { type: 'string' },
} as const;

/** A parsed `history` command line: what to read, and how to print it. */
export interface HistoryCommand {
  options: DeployHistoryOptions & { limit: number; paths: string[]; timeoutMs: number };
  output: 'text' | 'json';
  /** `--kustomization [NS/]NAME`: the repository, branch and path come from the cluster (./kustomization-history.ts). */
  kustomization?: { reference: string; kubeconfig?: string };
}

/** The JSON object `--output json` prints on the last line of stdout. */
export interface HistoryJsonReport {
  branch: string;
  head: string | null;
  commits: DeployHistoryCommit[];
  /** Only when the history could not be read. */
  error?: { code: string; message: string };
}

/**
 * Parses `history` arguments (after the word `history`) and the environment (credentials, as for
 * revert). Throws UsageError with a message for the person at the terminal.
 */
export function parseHistoryCommand(argv: string[], env: NodeJS.ProcessEnv): HistoryCommand {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if ((values.repo === undefined) === (values.kustomization === undefined))
    throw new UsageError('history needs --repo <URL|PATH> or --kustomization [NS/]NAME');
  if (values.kustomization !== undefined && values.path?.length)
    throw new UsageError("--path goes with --repo; --kustomization reads the Kustomization's own path");
  if (!isBranchName(values.branch)) throw new UsageError(`--branch "${values.branch.slice(0, 255)}" is not a valid branch name`);
  if (values.output !== 'text' && values.output !== 'json') throw new UsageError('--output must be text or json');
  const limit = /^\d{1,7}$/.test(values.limit) ? Number(values.limit) : NaN;
  if (!(limit >= 1 && limit <= MAX_HISTORY_LIMIT)) throw new UsageError(`--limit must be a whole number from 1 to ${MAX_HISTORY_LIMIT}`);
  const timeoutSeconds = Number(values.timeout);
  if (!(timeoutSeconds > 0)) throw new UsageError('--timeout must be a positive number of seconds');
  const paths = values.path ?? [];
  if (paths.length > MAX_HISTORY_PATHS) throw new UsageError(`At most ${MAX_HISTORY_PATHS} --path`);
  try {
    normalizePaths(paths);
  } catch (error) {
    if (error instanceof InvalidRequestError) throw new UsageError(`--path: ${error.message}`);
    throw error;
  }
  const repo = values.repo ?? '';
  return {
    ...(values.kustomization !== undefined ? { kustomization: { reference: values.kustomization, kubeconfig: values.kubeconfig } } : {}),
    options: {
      // With --kustomization, filled in from the cluster.
      repository: { url: repo, branch: values.branch, credentials: isSshUrl(repo) ? readSshCredentials(env) : readCredentials(env) },
      cacheDir: values['cache-dir'] ?? defaultCacheDir(env),
      paths,
      limit,
      timeoutMs: timeoutSeconds * 1000,
      policy: LOCAL_NETWORK_POLICY,
    },
    output: values.output,
  };
}

/** Runs `history`; returns the exit status. */
export async function runHistory(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let command: HistoryCommand;
  try {
    command = parseHistoryCommand(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`gitops-rollback: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  const json = command.output === 'json';
  let { repository } = command.options;
  try {
    // --kustomization: repository, branch and path from the cluster, and what the cluster saw of each commit.
    const cluster = command.kustomization ? await (await import('./kustomization-history.js')).readClusterSide(command.kustomization, env) : undefined;
    if (cluster) {
      repository = cluster.repository;
      command.options.repository = repository;
      command.options.paths = cluster.paths;
    }
    // As revert: the person's own URL, their machine (LOCAL_NETWORK_POLICY), but never silent about plain HTTP.
    if (/^http:\/\//i.test(repository.url)) {
      process.stderr.write('gitops-rollback: warning: http:// sends credentials and content unencrypted and unauthenticated; prefer https://\n');
    }
    const history = await readDeployHistory({ ...command.options, onProgress: json ? undefined : reportProgress });
    if (json) {
      const note = describeWalkEnd(history, command.options.limit);
      if (note) process.stderr.write(`gitops-rollback: note: ${note}\n`);
      process.stdout.write(`${JSON.stringify(cluster ? cluster.toJson(history) : toJsonReport(history))}\n`);
    } else {
      const { paths, limit } = command.options;
      process.stdout.write(formatHistoryText(history, { paths, limit, ...(cluster ? { title: cluster.title, marks: cluster.marks } : {}) }));
    }
    return 0;
  } catch (error) {
    const { code, message } = describeError(error);
    process.stderr.write(`gitops-rollback: ${message}\n`);
    if (json)
      process.stdout.write(`${JSON.stringify({ branch: repository.branch, head: null, commits: [], error: { code, message } } satisfies HistoryJsonReport)}\n`);
    return 2;
  }
}

export function toJsonReport(history: DeployHistory): HistoryJsonReport {
  return { branch: history.branch, head: history.head, commits: history.commits };
}

/**
 * A typed error's own message (the engine's, a usage error, the system's: a cache directory that
 * cannot be written); InternalError for what carries no code (a bug: the engine types its own).
 */
function describeError(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && code) return { code, message };
  return { code: 'InternalError', message: `Internal error: ${message}` };
}

// ---------------------------------------------------------------------------------------------
// Text

/** Columns of the table; a line is at most 99 characters, to fit a 100-column terminal. */
const WIDTH = { sha: 12, date: 16, subject: 38, components: 27 };
const GAP = '  ';
const LINE_WIDTH = 99;
const INDENT = ' '.repeat(WIDTH.sha + GAP.length);

/**
 * The table: one line per commit (short sha, committer date in UTC, subject, components), and
 * under it, when there are any, its rollback links and trailers (reverted by, reverts, incident,
 * request). Text from the repository is reduced to one line without control characters.
 */
export function formatHistoryText(
  history: DeployHistory,
  options: { paths?: string[]; limit: number; title?: string; marks?: (commit: DeployHistoryCommit) => string[] },
): string {
  const touching = options.paths?.length ? `, touching ${options.paths.map((p) => toOneLine(p, 60)).join(', ')}` : '';
  const count = `${history.commits.length} commit${history.commits.length === 1 ? '' : 's'}`;
  const lines = [toOneLine(`${history.branch} at ${shortSha(history.head)}: ${count}${touching}, newest first along first parents`, LINE_WIDTH)];
  if (options.title) lines.unshift(...options.title.split('\n').map((line) => toOneLine(line, LINE_WIDTH)));
  if (history.commits.length) {
    lines.push('', row('COMMIT', 'DATE (UTC)', 'SUBJECT', 'COMPONENTS'));
    for (const commit of history.commits) {
      lines.push(row(shortSha(commit.sha), utcMinutes(commit.date), toOneLine(commit.subject, WIDTH.subject), formatComponents(commit.paths)));
      const marks = [...(options.marks?.(commit) ?? []), ...markers(commit)];
      lines.push(...wrapMarks(marks).map((line) => `${INDENT}${line}`));
    }
  }
  const note = describeWalkEnd(history, options.limit);
  if (note) lines.push('', toOneLine(note, LINE_WIDTH));
  return `${lines.join('\n')}\n`;
}

/** The marks, `; `-separated, on as many indented lines as they need (a mark is never split, only cut when longer than a line). */
function wrapMarks(marks: string[]): string[] {
  const width = LINE_WIDTH - INDENT.length;
  const lines: string[] = [];
  for (const mark of marks.map((m) => toOneLine(m, width))) {
    const last = lines.length - 1;
    if (last >= 0 && [...lines[last]!].length + 2 + [...mark].length <= width) lines[last] += `; ${mark}`;
    else lines.push(mark);
  }
  return lines;
}

function row(sha: string, date: string, subject: string, components: string): string {
  return [sha.padEnd(WIDTH.sha), date.padEnd(WIDTH.date), pad(subject, WIDTH.subject), components].join(GAP).trimEnd();
}

/** Pads by code points, so a subject with characters outside the BMP keeps the columns. */
function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - [...text].length));
}

/** `2025-01-02 10:04` in UTC. */
function utcMinutes(date: string): string {
  const time = new Date(date);
  return Number.isNaN(time.getTime()) ? date.slice(0, WIDTH.date) : time.toISOString().slice(0, 16).replace('T', ' ');
}

/** The components that fit the column, then `+N` for the rest. */
function formatComponents(paths: string[]): string {
  const names = paths.map((p) => toOneLine(p, WIDTH.components));
  for (let shown = names.length; shown > 0; shown--) {
    const rest = names.length - shown;
    const text = names.slice(0, shown).join(', ') + (rest ? ` +${rest}` : '');
    if ([...text].length <= WIDTH.components) return text;
  }
  return names.length ? `${names.length} components` : '';
}

function markers(commit: DeployHistoryCommit): string[] {
  const marks: string[] = [];
  if (commit.revertedBy) marks.push(`reverted by ${shortSha(commit.revertedBy)}`);
  if (commit.reverts.length === 1) marks.push(`reverts ${shortSha(commit.reverts[0])}`);
  else if (commit.reverts.length > 1) marks.push(`reverts ${commit.reverts.length} commits: ${commit.reverts.map(shortSha).join(', ')}`);
  if (commit.incident) marks.push(`incident ${commit.incident}`);
  if (commit.rollbackRequest) marks.push(`request ${commit.rollbackRequest}`);
  return marks;
}

/** Why fewer commits than asked may be listed although older ones exist; undefined when the walk was complete. */
function describeWalkEnd(history: DeployHistory, limit: number): string | undefined {
  const notes: Record<HistoryWalkEnd, string | undefined> = {
    limit: undefined,
    end: undefined,
    'walk-bound': `Searched the newest ${history.walked} commits (--limit + ${HISTORY_WALK_SLACK}); older ones were not searched.`,
    'tree-budget': `Stopped after ${history.walked} commits: reading their changes reached the bound of 1,000,000 tree entries.`,
    'missing-history': `Stopped after ${history.walked} commits: the older history could not be read (a shallow repository?).`,
  };
  const note = notes[history.ended];
  return note && history.commits.length < limit ? note : undefined;
}
