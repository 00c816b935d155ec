/**
 * Parses the command line of `gitops-rollback revert|restore` into an engine request.
 * Throws UsageError with a message meant for the person at the terminal.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Credentials } from '../git/remote.js';
import type { RollbackRequest } from '../git/engine.js';
import { isSshUrl } from '../git/ssh-url.js';
import { readSigningKey, readSshCredentials } from './ssh-credentials.js';
import { UsageError } from './usage-error.js';
import { PULL_REQUEST_PROVIDERS, type PullRequestProvider } from '../api/v1alpha1/types.js';

export { UsageError };

/** --pull-request: open a pull request from --push-branch once it is pushed. */
export interface CliPullRequest {
  provider: PullRequestProvider;
  apiUrl?: string;
  token: string;
}

export interface CliCommand {
  request: RollbackRequest;
  pullRequest?: CliPullRequest;
  cacheDir: string;
  output: 'text' | 'json';
  timeoutMs: number;
  /** Protected kinds this run may delete or change (--allow-kind). */
  allowKinds: string[];
}

export const USAGE = `Usage:
  gitops-rollback revert  --repo <URL|PATH> [--branch main] (--commit <rev>... | --range <A>..<B>)
                          [--mainline N] [--path <p>...] [--squash] [common options]
  gitops-rollback restore --repo <URL|PATH> [--branch main] --revision <rev> --path <p> [--path <p>...]
                          [common options]
  gitops-rollback request revert|restore (--source-ref [<namespace>/]<name> | --repo <URL> [--branch main] [--secret NAME])
                          [--name NAME | --generate-name PREFIX] [--namespace NS] [revert or restore options]
                          [--reason TEXT] [--incident ID] [--author "Name <email>"] [--signing-secret NAME]
                          [--push-branch BRANCH] [--pull-request PROVIDER [--pull-request-secret NAME]] [--dry-run]
                          prints a GitOpsRollback manifest (YAML) instead of rolling back, for kubectl apply -f -
                          or the GitOps repository; revisions are 7 to 40 hex characters
  gitops-rollback rollback --kustomization [<namespace>/]<name> (--to-last-healthy | --to <sha>) [--wait]
                          [--reason TEXT] [--incident ID] [--dry-run] [--timeout DURATION] [--kubeconfig FILE]
                          creates the GitOpsRollback back to the last healthy revision and, with --wait,
                          follows it live (exit 0 Ready, 1 Stalled); rollback --help for more
  gitops-rollback history (--repo <URL|PATH> [--branch main] [--path <p>...] | --kustomization [<ns>/]<name>
                          [--kubeconfig FILE]) [--limit N] [--cache-dir DIR] [--output text|json] [--timeout SECONDS]
                          lists the branch's commits newest first along first parents (git log
                          --first-parent), at most --limit (default 20, max 1000), with --path only
                          those touching one: changed components, reverts / reverted by, incident;
                          --kustomization: its source and path, joined with Flux's status.history
                          (applied when, healthy or not) and the GitOpsRollbacks that touched each

Common options:
  --reason TEXT            why: written into the commit message
  --incident ID            incident reference, written as an "Incident:" trailer
  --author "Name <email>"  author and committer of the new commit(s)
  --signing-key FILE       sign the new commit(s): an armored OpenPGP secret key
                           (gpg --export-secret-keys --armor) or an OpenSSH private key
                           (gpg.format=ssh); passphrase from GIT_SIGNING_KEY_PASSPHRASE
  --push-branch BRANCH     write the new commit(s) onto this new branch, created from --branch's
                           head, instead of onto --branch (for a pull request); an existing
                           branch is never overwritten (exit 2)
  --pull-request PROVIDER  with --push-branch: open a pull request (GitLab: merge request) from it
                           into --branch: github, gitlab or gitea; token from GIT_PROVIDER_TOKEN
                           (else GIT_BEARER_TOKEN or GIT_PASSWORD)
  --pull-request-api URL   the host's REST API base when it is not derived from --repo
  --dry-run                compute and report; write no ref, push nothing
  --allow-kind KIND        let the rollback delete or change objects of a protected kind
                           (CustomResourceDefinition, PersistentVolumeClaim, PersistentVolume,
                           Namespace); repeatable. Without it such a rollback is blocked (exit 2).
                           Unparsable lets through changed files that cannot be parsed or followed
  --cache-dir DIR          where bare caches of remote repositories live
  --output text|json       json: one JSON object on the last line of stdout
  --timeout SECONDS        per network call (default 60)

--repo is a smart HTTP(S) URL (credentials from GIT_USERNAME/GIT_PASSWORD or GIT_BEARER_TOKEN),
an SSH address, ssh://[user@]host[:port]/path or [user@]host:path (key from GIT_SSH_KEY_FILE,
passphrase GIT_SSH_KEY_PASSPHRASE, host keys checked against GIT_SSH_KNOWN_HOSTS_FILE, default
~/.ssh/known_hosts), or the path of a local bare repository, whose branch is advanced in place.
Exit status: 0 reverted/planned/already-reverted/empty, 1 conflict, 2 bad input, error, or blocked
by the safety check (nothing written).`;

/** What to roll back and how: the options `revert`, `restore` and `request` share. */
export const ACTION_OPTIONS = {
  commit: { type: 'string', multiple: true },
  range: { type: 'string' },
  mainline: { type: 'string' },
  path: { type: 'string', multiple: true },
  squash: { type: 'boolean', default: false },
  revision: { type: 'string' },
  reason: { type: 'string' },
  incident: { type: 'string' },
  author: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  'allow-kind': { type: 'string', multiple: true },
} as const;

const OPTIONS = {
  repo: { type: 'string' },
  branch: { type: 'string', default: 'main' },
  ...ACTION_OPTIONS,
  'cache-dir': { type: 'string' },
  'signing-key': { type: 'string' },
  'push-branch': { type: 'string' },
  'pull-request': { type: 'string' },
  'pull-request-api': { type: 'string' },
  output: { type: 'string', default: 'text' },
  timeout: { type: 'string', default: '60' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Parses argv (without node and script) and the environment (for credentials). */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): CliCommand {
  const [command, ...rest] = argv;
  if (command !== 'revert' && command !== 'restore') {
    throw new UsageError(command ? `Unknown command "${command}"` : 'Missing command');
  }
  let values;
  try {
    ({ values } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!values.repo) throw new UsageError('--repo is required');
  if (values.output !== 'text' && values.output !== 'json') throw new UsageError('--output must be text or json');
  const timeoutSeconds = Number(values.timeout);
  if (!(timeoutSeconds > 0)) throw new UsageError('--timeout must be a positive number of seconds');

  const request: RollbackRequest = {
    repository: { url: values.repo, branch: values.branch, credentials: isSshUrl(values.repo) ? readSshCredentials(env) : readCredentials(env) },
    action: command === 'revert' ? parseRevertAction(values) : parseRestoreAction(values),
    reason: values.reason,
    incident: values.incident,
    author: values.author !== undefined ? parseAuthor(values.author) : undefined,
    signing: values['signing-key'] !== undefined ? readSigningKey(values['signing-key'], env) : undefined,
    pushBranch: values['push-branch'],
    dryRun: values['dry-run'],
  };
  return {
    request,
    pullRequest: parsePullRequest(values, env),
    cacheDir: values['cache-dir'] ?? defaultCacheDir(env),
    output: values.output,
    timeoutMs: timeoutSeconds * 1000,
    allowKinds: values['allow-kind'] ?? [],
  };
}

export type Values = { commit?: string[]; range?: string; mainline?: string; path?: string[]; squash?: boolean; revision?: string };

/** The revert action of `revert` (and of `request revert`). */
export function parseRevertAction(values: Values): RollbackRequest['action'] {
  if (values.revision) throw new UsageError('--revision belongs to restore; revert takes --commit or --range');
  const commits = values.commit ?? [];
  if (commits.length && values.range) throw new UsageError('Give --commit or --range, not both');
  if (!commits.length && !values.range) throw new UsageError('revert needs --commit <rev> (repeatable) or --range <A>..<B>');
  let range: { from: string; to: string } | undefined;
  if (values.range) {
    const match = /^([^.\s]+)\.\.([^.\s]+)$/.exec(values.range);
    if (!match) throw new UsageError(`--range must look like <A>..<B>, got "${values.range}"`);
    range = { from: match[1], to: match[2] };
  }
  let mainline: number | undefined;
  if (values.mainline !== undefined) {
    mainline = Number(values.mainline);
    if (!Number.isInteger(mainline) || mainline < 1) throw new UsageError('--mainline must be a parent number (1, 2, ...)');
  }
  return { kind: 'revert', commits: commits.length ? commits : undefined, range, mainline, paths: values.path, squash: values.squash };
}

/** The restore action of `restore` (and of `request restore`). */
export function parseRestoreAction(values: Values): RollbackRequest['action'] {
  if (values.commit || values.range || values.mainline || values.squash)
    throw new UsageError('restore takes --revision and --path; --commit, --range, --mainline and --squash belong to revert');
  if (!values.revision) throw new UsageError('restore needs --revision <rev>');
  if (!values.path?.length) throw new UsageError('restore needs at least one --path');
  return { kind: 'restore', revision: values.revision, paths: values.path };
}

/** "Name <email>". */
export function parseAuthor(text: string): { name: string; email: string } {
  const match = /^\s*([^<>]+?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(text);
  if (!match) throw new UsageError(`--author must look like "Name <email>", got "${text}"`);
  return { name: match[1], email: match[2] };
}

function parsePullRequest(
  values: { 'pull-request'?: string; 'pull-request-api'?: string; 'push-branch'?: string; 'dry-run'?: boolean },
  env: NodeJS.ProcessEnv,
): CliPullRequest | undefined {
  const provider = values['pull-request'];
  if (provider === undefined) {
    if (values['pull-request-api'] !== undefined) throw new UsageError('--pull-request-api needs --pull-request');
    return undefined;
  }
  if (values['push-branch'] === undefined) throw new UsageError('--pull-request needs --push-branch (the branch the pull request is opened from)');
  const apiUrl = values['pull-request-api'];
  if (apiUrl !== undefined && !/^https?:\/\//.test(apiUrl)) throw new UsageError('--pull-request-api must be an http(s) URL');
  const token = env.GIT_PROVIDER_TOKEN || env.GIT_BEARER_TOKEN || env.GIT_PASSWORD;
  if (!token && !values['dry-run']) throw new UsageError('--pull-request needs an API token in GIT_PROVIDER_TOKEN (or GIT_BEARER_TOKEN or GIT_PASSWORD)');
  return { provider: parseProvider(provider), apiUrl, token: token ?? '' };
}

/** The --pull-request value, checked. */
export function parseProvider(value: string): PullRequestProvider {
  const provider = PULL_REQUEST_PROVIDERS.find((p) => p === value);
  if (!provider) throw new UsageError(`--pull-request must be one of ${PULL_REQUEST_PROVIDERS.join(', ')}`);
  return provider;
}

/** HTTP(S) credentials from GIT_BEARER_TOKEN, or GIT_USERNAME/GIT_PASSWORD; undefined when none is set. */
export function readCredentials(env: NodeJS.ProcessEnv): Credentials | undefined {
  if (env.GIT_BEARER_TOKEN) return { bearerToken: env.GIT_BEARER_TOKEN };
  if (env.GIT_USERNAME || env.GIT_PASSWORD) return { username: env.GIT_USERNAME ?? 'git', password: env.GIT_PASSWORD ?? '' };
  return undefined;
}

/** --cache-dir's default: $XDG_CACHE_HOME/gitops-rollback, else ~/.cache/gitops-rollback. */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'gitops-rollback');
}
