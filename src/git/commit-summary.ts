/**
 * What a history walk needs of a commit, read without decoding the whole commit: its parents and
 * committer time from the header, and the markers idempotency reads back (the commits it says
 * it reverts, its Rollback-Request trailer). Reverting a commit 10,000 commits below the head
 * walks all 10,000; decoding each message (UTF-8, newline normalisation, paragraph split) was
 * most of that walk's time, and almost no message holds a marker. So the message is decoded,
 * with the same parsers as everywhere else, only when its bytes contain one.
 */
import { parseRequestId, parseRevertedCommits, REQUEST_TRAILER } from './message.js';
import { parseCommit, parsePerson } from './commit-parse.js';

export interface CommitSummary {
  oid: string;
  parents: string[];
  /** Committer timestamp in seconds (0 when there is none, as in git): the walk's order. */
  time: number;
  /** Full SHAs its message says it reverts (parseRevertedCommits). */
  reverts: string[];
  /** Its Rollback-Request trailer (parseRequestId). */
  requestId?: string;
}

const REVERTS_MARKER = Buffer.from('This reverts commit ', 'latin1');
const REQUEST_MARKER = Buffer.from(`${REQUEST_TRAILER}: `, 'latin1');
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TREE_LINE = 'tree '.length + 40 + 1;
const PARENT_LINE = 'parent '.length + 40 + 1;

/** The summary of the commit `oid` whose body (the bytes after "commit <size>\0") is `body`. */
export function summarizeCommit(oid: string, body: Buffer): CommitSummary {
  const header = readHeader(body) ?? fromFullParse(body);
  const summary: CommitSummary = { oid, parents: header.parents, time: header.time, reverts: [] };
  // Markers are ASCII and parsed from the message with CRs removed: without a CR and without
  // the marker's bytes, the parsers below cannot find one (invalid UTF-8 decodes to U+FFFD and
  // never into ASCII).
  if (body.includes(CR) || body.includes(REVERTS_MARKER) || body.includes(REQUEST_MARKER)) {
    const { message } = parseCommit(body);
    summary.reverts = parseRevertedCommits(message);
    const requestId = parseRequestId(message);
    if (requestId !== undefined) summary.requestId = requestId;
  }
  return summary;
}

/**
 * The header as git writes it ("tree", "parent" lines of 40 hex digits, no continuation lines
 * among them, a one-line committer), read from the bytes; null for anything else, which goes
 * through the full parser so that both read every commit alike.
 */
function readHeader(body: Buffer): { parents: string[]; time: number } | null {
  const end = body.indexOf('\n\n');
  if (end < 0 || !startsLine(body, 0, 'tree ', TREE_LINE)) return null;
  const parents: string[] = [];
  let at = TREE_LINE;
  while (startsLine(body, at, 'parent ', PARENT_LINE)) {
    parents.push(body.toString('utf8', at + 7, at + 47));
    at += PARENT_LINE;
  }
  if (body[at] === SPACE || body.toString('latin1', at, at + 7) === 'parent ') return null;
  const committerAt = findHeader(body, at, end, 'committer ');
  if (committerAt < 0) return { parents, time: 0 };
  const lineEnd = body.indexOf(LF, committerAt);
  if (body[lineEnd + 1] === SPACE) return null;
  return { parents, time: parsePerson(body.toString('utf8', committerAt + 'committer '.length, lineEnd)).timestamp };
}

/** True when a line of exactly `length` bytes (its newline included) starting `key` is at `at`. */
function startsLine(body: Buffer, at: number, key: string, length: number): boolean {
  return body.indexOf(LF, at) === at + length - 1 && body.toString('latin1', at, at + key.length) === key;
}

/** Offset of the first header line starting with `key` between `from` and `end`, or -1. */
function findHeader(body: Buffer, from: number, end: number, key: string): number {
  for (let at = from; at < end;) {
    if (body.toString('latin1', at, at + key.length) === key) return at;
    const next = body.indexOf(LF, at);
    if (next < 0 || next >= end) return -1;
    at = next + 1;
  }
  return -1;
}

function fromFullParse(body: Buffer): { parents: string[]; time: number } {
  const commit = parseCommit(body);
  return { parents: commit.parent, time: commit.committer?.timestamp ?? 0 };
}
