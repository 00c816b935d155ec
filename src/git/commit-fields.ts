/**
 * What a request puts into a commit besides the tree: the author's identity, the reason, the
 * incident and who asked. git writes headers and message as plain text, so a newline in a name forges a header
 * and a line in the reason can pose as a marker the engine reads back (`This reverts commit`,
 * `Rollback-Request:`). These checks keep each field in its place, for the CLI and the operator
 * alike; git's own ident code refuses the same (ident.c: no `<`, `>` or newline in an ident).
 */
import { InvalidRequestError } from './errors.js';

/** An incident reference: one token, no spaces or control characters (INC-42, JIRA-7, a URL). */
export const INCIDENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/#?=&%+@~-]{0,255}$/;
/** A reason longer than this is cut (people read the first lines; the CRD allows 4096). */
export const MAX_REASON_LENGTH = 2000;
/** A Requested-By value longer than this is cut (a username, or a policy and the event that triggered it; the CRD's status allows 1024). */
export const MAX_REQUESTED_BY_LENGTH = 1024;

// eslint-disable-next-line no-control-regex
const IDENT_FORBIDDEN = /[<>\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/g;
/** `Key: value`, the shape of a git trailer line (git interpret-trailers). */
const TRAILER_LIKE = /^[A-Za-z0-9][A-Za-z0-9-]*\s*:/;

export interface Identity {
  name: string;
  email: string;
}

/** Throws InvalidRequestError unless name and email are one line each without `<` or `>`. */
export function checkIdentity(role: 'author' | 'committer', identity: Identity): void {
  for (const field of ['name', 'email'] as const) {
    const value = identity[field];
    if (typeof value !== 'string' || value.trim() === '') throw new InvalidRequestError(`The ${role} ${field} is empty`, { field: `${role}.${field}` });
    if (value.length > 256) throw new InvalidRequestError(`The ${role} ${field} is longer than 256 characters`, { field: `${role}.${field}` });
    if (IDENT_FORBIDDEN.test(value)) {
      throw new InvalidRequestError(`The ${role} ${field} must not contain "<", ">", newlines or other control characters`, { field: `${role}.${field}` });
    }
  }
}

/** Throws InvalidRequestError unless the incident is one token (see INCIDENT_PATTERN). */
export function checkIncident(incident: string | undefined): void {
  if (incident === undefined || incident === '') return;
  if (!INCIDENT_PATTERN.test(incident)) {
    throw new InvalidRequestError('The incident must be one token of at most 256 letters, digits and ._:/#?=&%+@~- (no spaces or newlines)', {
      field: 'incident',
    });
  }
}

/**
 * The reason as it goes into a message: one paragraph on one line (newlines and runs of blanks
 * become one space), control characters removed, at most MAX_REASON_LENGTH characters. A reason
 * that would read as a trailer line gets a `Reason:` key, so it can never pass for one of ours.
 * Undefined when nothing is left.
 */
export function sanitizeReason(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  let text = reason.replace(CONTROL, '').replace(/\s+/g, ' ').trim();
  if (!text) return undefined;
  if (TRAILER_LIKE.test(text)) text = `Reason: ${text}`;
  return text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH - 3)}...` : text;
}

/**
 * Who asked for the rollback, as its `Requested-By:` trailer carries it: one line (newlines and
 * runs of blanks become one space), control characters removed, at most `maxLength` characters
 * (MAX_REQUESTED_BY_LENGTH), cut with `...`. Alone on its trailer line, it cannot pose as another
 * trailer or a marker. Undefined when nothing is left.
 */
export function sanitizeRequestedBy(requestedBy: string | undefined, maxLength = MAX_REQUESTED_BY_LENGTH): string | undefined {
  if (requestedBy === undefined) return undefined;
  const text = requestedBy.replace(CONTROL, '').replace(/\s+/g, ' ').trim();
  if (!text) return undefined;
  return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
}
