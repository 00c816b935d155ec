/**
 * Reads a pull request out of a host's JSON answer, trusting nothing: each field checked for
 * its type and bounded, the URL only http(s). A malformed answer is a PullRequestApiError.
 */
import { toOneLine } from '../one-line.js';
import { PullRequestApiError } from './errors.js';
import type { PullRequestInfo, PullRequestState } from './types.js';

export interface AnswerFields {
  number: unknown;
  url: unknown;
  state: PullRequestState | undefined;
  mergeCommit: unknown;
}

/** The fields a provider picked from its answer, checked; `context` names the call for the error. */
export function toPullRequestInfo(fields: AnswerFields, context: { provider: string; operation: string; url: string }): PullRequestInfo {
  const { number, url, state, mergeCommit } = fields;
  const bad = (detail: string) => new PullRequestApiError({ ...context, detail: `unexpected answer: ${detail}`, transient: false });
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) throw bad('no pull request number');
  if (typeof url !== 'string' || !/^https?:\/\//.test(url) || url.length > 2048) throw bad('no http(s) URL');
  if (state === undefined) throw bad('an unknown state');
  // SHA-1, or SHA-256 for repositories in git's newer object format.
  const commit = typeof mergeCommit === 'string' && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(mergeCommit) ? mergeCommit : undefined;
  return { number, url: toOneLine(url, 2048), state, ...(state === 'Merged' && commit ? { mergeCommit: commit } : {}) };
}

/** The object at `json` (an answer's body), or an empty one. */
export function asObject(json: unknown): Record<string, unknown> {
  return json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
}
