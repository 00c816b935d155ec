/**
 * Parsing of commit and tag objects, exactly as isomorphic-git reads them (the engine compares
 * its commits with isomorphic-git's byte for byte in tests): headers with continuation lines,
 * the first author and committer, the message normalised as isomorphic-git does.
 */
import { ParseError } from './object-errors.js';
import type { CommitData } from './object-store.js';

export type Person = CommitData['author'];

/** Removes CRs and leading newlines, and ends with exactly one newline. */
export function normalizeNewlines(text: string): string {
  const body = text.replace(/\r/g, '').replace(/^\n+/, '');
  // A loop, not /\n+$/: that regex is quadratic on a long run of newlines inside a message.
  let end = body.length;
  while (end > 0 && body.charCodeAt(end - 1) === 10) end--;
  return body.slice(0, end) + '\n';
}

/** "Name <email> 1700000000 +0200" -> timezoneOffset -120 (isomorphic-git's sign: minutes west). */
export function parsePerson(author: string): Person {
  const match = author.match(/^(.*) <(.*)> (.*) (.*)$/);
  if (!match) throw new ParseError({ expected: 'name <email> timestamp timezone', actual: author });
  const [, name, email, timestamp, offset] = match;
  return { name, email, timestamp: Number(timestamp), timezoneOffset: parseTimezoneOffset(offset) };
}

function parseTimezoneOffset(offset: string): number {
  const match = offset.match(/(\+|-)(\d\d)(\d\d)/);
  if (!match) throw new ParseError({ expected: 'timezone offset like +0200', actual: offset });
  const [, sign, hours, minutes] = match;
  const value = (sign === '+' ? 1 : -1) * (Number(hours) * 60 + Number(minutes));
  // -0 stays -0 ("-0000"), as in isomorphic-git.
  return value === 0 ? value : -value;
}

/** Headers (continuation lines joined with "\n") up to the first blank line. */
function headerLines(text: string): string[] {
  const lines: string[] = [];
  for (const h of text.slice(0, text.indexOf('\n\n')).split('\n')) {
    if (h[0] === ' ') lines[lines.length - 1] += '\n' + h.slice(1);
    else lines.push(h);
  }
  return lines;
}

/**
 * A commit's tree (the first header), the parent lines right after it, the first author and
 * committer, and the message after the first blank line (gpgsig and other headers stay out).
 */
export function parseCommit(body: Buffer): { tree: string; parent: string[]; author?: Person; committer?: Person; message: string } {
  const text = body.toString('utf8');
  const hs = headerLines(text);
  const keyOf = (h: string) => h.slice(0, h.indexOf(' '));
  const valueOf = (h: string) => h.slice(h.indexOf(' ') + 1);
  if (hs.length === 0 || keyOf(hs[0]) !== 'tree') throw new ParseError({ expected: 'tree as the first commit header', actual: keyOf(hs[0] || '') });
  const tree = valueOf(hs[0]);
  const parent: string[] = [];
  let index = 1;
  while (index < hs.length && keyOf(hs[index]) === 'parent') parent.push(valueOf(hs[index++]));
  let author: Person | undefined;
  let committer: Person | undefined;
  const seen = new Set(['tree', 'parent']);
  for (; index < hs.length; index++) {
    const key = keyOf(hs[index]);
    if (seen.has(key)) continue;
    seen.add(key);
    if (key === 'author') author = parsePerson(valueOf(hs[index]));
    else if (key === 'committer') committer = parsePerson(valueOf(hs[index]));
  }
  const message = normalizeNewlines(text.slice(text.indexOf('\n\n') + 2));
  return { tree, parent, author, committer, message };
}

/** The object an annotated tag points at (its first `object` header). */
export function parseTagTarget(body: Buffer): string {
  const text = body.toString('utf8');
  for (const h of headerLines(text)) if (h.startsWith('object ')) return h.slice('object '.length);
  throw new ParseError({ expected: 'an object header in the tag', actual: text.slice(0, 64) });
}
