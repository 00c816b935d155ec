/**
 * Commit messages, byte for byte as git writes them, plus the rollback's reason and trailers.
 * The `This reverts commit <sha>.` line is also what idempotency detection reads back.
 *
 * Markers are read back only where we (or `git revert`) write them: the reverts-lines in the
 * first body paragraph (after the list of a squashed revert), the `Rollback-Request:` trailer in
 * the trailer block that ends the message. The reason is one sanitised paragraph between them, so
 * whatever it says cannot pose as either (see commit-fields.ts).
 */
import { sanitizeReason, sanitizeRequestedBy } from './commit-fields.js';
import type { CommitData } from './object-store.js';

export interface MessageContext {
  reason?: string;
  incident?: string;
  /** Identifies the rollback request (e.g. namespace/name/uid) so a retry finds its own commit. */
  requestId?: string;
  /**
   * Who asked for the rollback (a Kubernetes username, or the policy and event that triggered it):
   * a `Requested-By:` trailer, one line, bounded (sanitizeRequestedBy).
   */
  requestedBy?: string;
}

export const REQUEST_TRAILER = 'Rollback-Request';
export const INCIDENT_TRAILER = 'Incident';
export const REQUESTED_BY_TRAILER = 'Requested-By';

const REVERTS_LINE = /^This reverts commit ([0-9a-f]{40})[.,]/gm;
const REQUEST_LINE = new RegExp(`^${REQUEST_TRAILER}: (.+)$`, 'm');
/** A line of a squashed revert's list: `- <short sha> <subject>`. */
const LIST_LINE = /^- [0-9a-f]{7,40} /;
/** A git trailer line, `Key: value`. */
const TRAILER_LINE = /^[A-Za-z0-9][A-Za-z0-9-]*: \S/;

/** First non-blank line of a commit message, as git's find_commit_subject takes it. */
export function getSubject(message: string): string {
  return message.split('\n').find((line) => line.trim() !== '') ?? '';
}

/** git revert's message for one commit (with `, reversing\nchanges made to <parent>` for merges). */
export function formatRevertMessage(commit: CommitData, parent: string | null, ctx: MessageContext): string {
  let text = `Revert "${getSubject(commit.message)}"\n\nThis reverts commit ${commit.oid}`;
  if (commit.parents.length > 1 && parent) text += `, reversing\nchanges made to ${parent}`;
  return appendContext(`${text}.\n`, ctx);
}

/** One commit reverting several: lists each (short sha + subject), then one reverts-line each. */
export function formatSquashMessage(commits: CommitData[], ctx: MessageContext): string {
  const list = commits.map((c) => `- ${c.oid.slice(0, 7)} ${getSubject(c.message)}`).join('\n');
  const lines = commits.map((c) => `This reverts commit ${c.oid}.`).join('\n');
  return appendContext(`Revert ${commits.length} commits\n\n${list}\n\n${lines}\n`, ctx);
}

/** Message of a restore: which paths were set back to which revision. */
export function formatRestoreMessage(revision: CommitData, paths: string[], ctx: MessageContext): string {
  const subject = `Restore ${paths.join(', ')} to ${revision.oid.slice(0, 7)}`;
  const body = `Restores ${paths.join(', ')} as of commit ${revision.oid}\n("${getSubject(revision.message)}").`;
  return appendContext(`${subject}\n\n${body}\n`, ctx);
}

function appendContext(message: string, ctx: MessageContext): string {
  let text = message;
  const reason = sanitizeReason(ctx.reason);
  if (reason) text += `\n${reason}\n`;
  const trailers: string[] = [];
  if (ctx.incident) trailers.push(`${INCIDENT_TRAILER}: ${oneLine(ctx.incident)}`);
  const requestedBy = sanitizeRequestedBy(ctx.requestedBy);
  if (requestedBy) trailers.push(`${REQUESTED_BY_TRAILER}: ${requestedBy}`);
  if (ctx.requestId) trailers.push(`${REQUEST_TRAILER}: ${oneLine(ctx.requestId)}`);
  if (trailers.length) text += `\n${trailers.join('\n')}\n`;
  return text;
}

function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

/** The message's paragraphs (split at blank lines), leading blank lines skipped as git does. */
function splitParagraphs(message: string): string[] {
  return (
    message
      .replace(/^(?:[ \t]*\n)+/, '')
      // trimEnd, not /\s+$/: that regex is quadratic on a long whitespace run inside a message.
      .trimEnd()
      .split(/\n(?:[ \t]*\n)+/)
  );
}

/**
 * Full SHAs a commit message says it reverts (one per line, several for squashed reverts), read
 * from the first body paragraph only, or the one after a squashed revert's list: where
 * `git revert` and this engine write them. The same line further down (a reason, a quoted event)
 * is text, not a marker.
 */
export function parseRevertedCommits(message: string): string[] {
  const body = splitParagraphs(message).slice(1);
  const index = body[0] !== undefined && body[0].split('\n').every((line) => LIST_LINE.test(line)) ? 1 : 0;
  const paragraph = body[index];
  if (!paragraph?.startsWith('This reverts commit ')) return [];
  return [...paragraph.matchAll(REVERTS_LINE)].map((m) => m[1]);
}

/**
 * The Rollback-Request trailer of a message, if any: only from the trailer block that ends the
 * message (a last paragraph of `Key: value` lines after the subject and the first body paragraph).
 */
export function parseRequestId(message: string): string | undefined {
  const paragraphs = splitParagraphs(message);
  if (paragraphs.length < 3) return undefined;
  const last = paragraphs[paragraphs.length - 1];
  if (!last.split('\n').every((line) => TRAILER_LINE.test(line))) return undefined;
  return REQUEST_LINE.exec(last)?.[1]?.trim();
}
