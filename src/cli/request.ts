/**
 * `gitops-rollback request revert|restore ...`: the GitOpsRollback manifest for the same options
 * as `revert`/`restore`, to `kubectl apply -f -` or to commit into the GitOps repository.
 * Pure: argv in, manifest out. Validates what the CRD validates (one source, one action,
 * revisions of 7 to 40 hex characters, relative paths without ".."), with messages for a person
 * at the terminal, so a printed manifest is one the API server accepts.
 */
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { API_VERSION, KIND, type GitOpsRollbackSpec } from '../api/v1alpha1/types.js';
import { InvalidRepositoryUrlError, InvalidRequestError } from '../git/errors.js';
import { checkRepositoryUrl, LOCAL_NETWORK_POLICY } from '../git/url-policy.js';
import { normalizePaths } from '../git/tree-paths.js';
import { ACTION_OPTIONS, UsageError, parseAuthor, parseProvider, parseRestoreAction, parseRevertAction } from './args.js';
import { isBranchName } from '../git/branch-name.js';

/**
 * A GitOpsRollback as written by a user: no status, and metadata.generateName allowed. No
 * annotations: rollback.gitops.dev/requested-by is the API server's to write (config/admission).
 */
export interface GitOpsRollbackManifest {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: { name?: string; generateName?: string; namespace?: string };
  spec: GitOpsRollbackSpec;
}

const OPTIONS = {
  'source-ref': { type: 'string' },
  repo: { type: 'string' },
  branch: { type: 'string' },
  secret: { type: 'string' },
  name: { type: 'string' },
  'generate-name': { type: 'string' },
  namespace: { type: 'string' },
  'signing-secret': { type: 'string' },
  'push-branch': { type: 'string' },
  'pull-request': { type: 'string' },
  'pull-request-secret': { type: 'string' },
  ...ACTION_OPTIONS,
} as const;

// The limits of src/api/v1alpha1/schema.ts.
const REVISION = /^[0-9a-fA-F]{7,40}$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const URL_PATTERN = /^(https?|ssh):\/\//;
const MAX_ITEMS = 100;

/**
 * Parses `request` arguments (after the word `request`) into a manifest.
 * Throws UsageError when the options are incomplete, contradictory, or the CRD would reject them.
 */
export function buildRequestManifest(argv: string[]): GitOpsRollbackManifest {
  const [action, ...rest] = argv;
  if (action !== 'revert' && action !== 'restore') {
    throw new UsageError(action ? `request takes revert or restore, got "${action}"` : 'request needs revert or restore: gitops-rollback request revert ...');
  }
  let values;
  try {
    ({ values } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }

  const spec: GitOpsRollbackSpec = { ...readSource(values) };
  const parsed = action === 'revert' ? parseRevertAction(values) : parseRestoreAction(values);
  if (parsed.kind === 'revert') {
    const commits = parsed.commits?.map((rev) => checkRevision('--commit', rev));
    if (commits && commits.length > MAX_ITEMS) throw new UsageError(`At most ${MAX_ITEMS} --commit in one request`);
    const range = parsed.range && { from: checkRevision('--range', parsed.range.from), to: checkRevision('--range', parsed.range.to) };
    spec.revert = {
      ...(commits ? { commits } : {}),
      ...(range ? { range } : {}),
      ...(parsed.mainline !== undefined ? { mainline: parsed.mainline } : {}),
      ...(parsed.paths?.length ? { paths: checkPaths(parsed.paths) } : {}),
      ...(parsed.squash ? { squash: true } : {}),
    };
  } else {
    spec.restore = { revision: checkRevision('--revision', parsed.revision), paths: checkPaths(parsed.paths) };
  }
  if (values.reason !== undefined) spec.reason = checkLength('--reason', values.reason, 4096);
  if (values.incident !== undefined) spec.incident = checkLength('--incident', values.incident, 256);
  if (values.author !== undefined) {
    const author = parseAuthor(values.author);
    spec.author = { name: checkLength('--author name', author.name, 256), email: checkLength('--author email', author.email, 256) };
  }
  if (values['signing-secret'] !== undefined)
    spec.signing = { secretRef: { name: checkName('--signing-secret', values['signing-secret'], DNS_SUBDOMAIN, 253) } };
  Object.assign(spec, readPushAndPullRequest(values));
  if (values['dry-run']) spec.dryRun = true;
  if (values['allow-kind']?.length) spec.safety = { allow: values['allow-kind'] };

  return { apiVersion: API_VERSION, kind: KIND, metadata: readMetadata(values, spec), spec };
}

/** The manifest as YAML, one document, ready for `kubectl apply -f -`. */
export function formatManifest(manifest: GitOpsRollbackManifest): string {
  return stringify(manifest, { lineWidth: 0 });
}

type PushValues = { 'push-branch'?: string; 'pull-request'?: string; 'pull-request-secret'?: string };

/** spec.push and spec.pullRequest from --push-branch, --pull-request and --pull-request-secret. */
function readPushAndPullRequest(values: PushValues): Pick<GitOpsRollbackSpec, 'push' | 'pullRequest'> {
  const spec: Pick<GitOpsRollbackSpec, 'push' | 'pullRequest'> = {};
  const branch = values['push-branch'];
  if (branch !== undefined) {
    if (!isBranchName(branch)) throw new UsageError(`--push-branch "${branch.slice(0, 255)}" is not a branch name`);
    spec.push = { branch };
  }
  const provider = values['pull-request'];
  if (provider === undefined) {
    if (values['pull-request-secret'] !== undefined) throw new UsageError('--pull-request-secret needs --pull-request');
    return spec;
  }
  const secret = values['pull-request-secret'];
  spec.pullRequest = {
    provider: parseProvider(provider),
    ...(secret !== undefined ? { secretRef: { name: checkName('--pull-request-secret', secret, DNS_SUBDOMAIN, 253) } } : {}),
  };
  return spec;
}

type SourceValues = { 'source-ref'?: string; repo?: string; branch?: string; secret?: string };

function readSource(values: SourceValues): Pick<GitOpsRollbackSpec, 'sourceRef' | 'repository'> {
  const sourceRef = values['source-ref'];
  if (sourceRef !== undefined && values.repo !== undefined) throw new UsageError('Give --source-ref or --repo, not both');
  if (sourceRef !== undefined) {
    if (values.branch !== undefined || values.secret !== undefined) {
      throw new UsageError('--branch and --secret go with --repo; with --source-ref the GitRepository names its branch and Secret');
    }
    const parts = sourceRef.split('/');
    if (parts.length > 2) throw new UsageError(`--source-ref must be <name> or <namespace>/<name>, got "${sourceRef}"`);
    const [namespace, name] = parts.length === 2 ? parts : [undefined, parts[0]];
    checkName('--source-ref name', name, DNS_SUBDOMAIN, 253);
    if (namespace !== undefined) checkName('--source-ref namespace', namespace, DNS_LABEL, 63);
    return { sourceRef: { kind: 'GitRepository', name, ...(namespace !== undefined ? { namespace } : {}) } };
  }
  if (values.repo !== undefined) {
    if (!URL_PATTERN.test(values.repo) || values.repo.length > 2048) {
      throw new UsageError(`--repo must be an http(s):// or ssh:// URL the controller can reach, got "${values.repo.replace(/\/\/[^/]*@/, '//')}"`);
    }
    try {
      // The controller refuses credentials, a query or a fragment in the URL: so does the manifest.
      checkRepositoryUrl(values.repo, LOCAL_NETWORK_POLICY);
    } catch (error) {
      if (error instanceof InvalidRepositoryUrlError) throw new UsageError(`--repo: ${error.message}`);
      throw error;
    }
    const branch = checkLength('--branch', values.branch ?? 'main', 255);
    if (!branch) throw new UsageError('--branch must not be empty');
    const secretRef = values.secret !== undefined ? { name: checkName('--secret', values.secret, DNS_SUBDOMAIN, 253) } : undefined;
    return { repository: { url: values.repo, branch, ...(secretRef ? { secretRef } : {}) } };
  }
  throw new UsageError('request needs --source-ref [<namespace>/]<name> (a Flux GitRepository) or --repo <URL>');
}

function readMetadata(values: { name?: string; 'generate-name'?: string; namespace?: string }, spec: GitOpsRollbackSpec): GitOpsRollbackManifest['metadata'] {
  if (values.name !== undefined && values['generate-name'] !== undefined) throw new UsageError('Give --name or --generate-name, not both');
  const metadata: GitOpsRollbackManifest['metadata'] = {};
  if (values['generate-name'] !== undefined) {
    const prefix = values['generate-name'];
    // The API server appends 5 characters; the result must be a valid name.
    if (prefix.length > 248 || !DNS_SUBDOMAIN.test(`${prefix}x`)) {
      throw new UsageError(`--generate-name must be the start of a Kubernetes name (lower-case letters, digits, "-" and "."), got "${prefix}"`);
    }
    metadata.generateName = prefix;
  } else {
    metadata.name = checkName('--name', values.name ?? defaultName(spec), DNS_SUBDOMAIN, 253);
  }
  if (values.namespace !== undefined) metadata.namespace = checkName('--namespace', values.namespace, DNS_LABEL, 63);
  return metadata;
}

/** revert-<first 7 of the newest named commit> or restore-<first 7 of the revision>. */
function defaultName(spec: GitOpsRollbackSpec): string {
  const revision = spec.restore?.revision ?? spec.revert?.range?.to ?? spec.revert?.commits?.[0] ?? '';
  return `${spec.restore ? 'restore' : 'revert'}-${revision.slice(0, 7).toLowerCase()}`;
}

function checkRevision(option: string, revision: string): string {
  if (!REVISION.test(revision)) {
    throw new UsageError(
      `${option} must be a commit sha of 7 to 40 hex characters (names such as HEAD~1 or main are resolved only by revert/restore), got "${revision}"`,
    );
  }
  return revision;
}

/** The engine's own path rules (no absolute paths, no "." or ".." or ".git" parts), normalized. */
function checkPaths(paths: string[]): string[] {
  if (paths.length > MAX_ITEMS) throw new UsageError(`At most ${MAX_ITEMS} --path in one request`);
  try {
    return normalizePaths(paths);
  } catch (error) {
    if (error instanceof InvalidRequestError) throw new UsageError(`--path: ${error.message}`);
    throw error;
  }
}

function checkName(option: string, name: string, pattern: RegExp, maxLength: number): string {
  if (name.length > maxLength || !pattern.test(name)) {
    const characters = pattern === DNS_LABEL ? 'lower-case letters, digits and "-"' : 'lower-case letters, digits, "-" and "."';
    throw new UsageError(`${option} must be a Kubernetes name (${characters}, at most ${maxLength} characters), got "${name}"`);
  }
  return name;
}

function checkLength(option: string, text: string, maxLength: number): string {
  if (text.length > maxLength) throw new UsageError(`${option} is longer than ${maxLength} characters`);
  return text;
}
