/**
 * Errors of reading git objects, as isomorphic-git's (src/errors/NotFoundError.js,
 * ObjectTypeError.js, ParseError.js, UnsafeFilepathError.js): the same codes, data and messages,
 * so what sorts them (./engine-errors.ts) and the callers that catch them do not change with the
 * code that throws them. They describe the repository, not the request: the engine's boundary
 * turns them into CorruptRepositoryError, and they never leave a run as they are.
 */
import { CodedError } from '../coded-error.js';

/** One of the errors of this file: a repository's object missing or not as git writes it. */
export abstract class GitObjectError extends CodedError {
  abstract readonly data: Record<string, unknown>;
}

/** An object (or ref) that is not there. `what` is the object id when an object is missing. */
export class NotFoundError extends GitObjectError {
  readonly code = 'NotFoundError' as const;
  constructor(readonly data: { what: string }) {
    super(`Could not find ${data.what}.`);
  }
}

/** An object of another type than the one asked for (a blob where a tree was expected). */
export class ObjectTypeError extends GitObjectError {
  readonly code = 'ObjectTypeError' as const;
  constructor(readonly data: { oid: string; actual: string; expected: string }) {
    super(`Object ${data.oid} was anticipated to be a ${data.expected} but it is a ${data.actual}.`);
  }
}

/** A commit or tag whose headers git would not accept. */
export class ParseError extends GitObjectError {
  readonly code = 'ParseError' as const;
  constructor(readonly data: { expected: string; actual: string }) {
    super(`Expected "${data.expected}" but received "${data.actual}".`);
  }
}

/** A tree entry named so that git's verify_path() refuses it (`.git`, `..`, a slash...). */
export class UnsafeFilepathError extends GitObjectError {
  readonly code = 'UnsafeFilepathError' as const;
  constructor(readonly data: { filepath: string }) {
    super(`The filepath "${data.filepath}" contains unsafe character sequences`);
  }
}

/** A tree whose bytes do not parse (isomorphic-git throws InternalError for these). */
export class MalformedTreeError extends GitObjectError {
  readonly code = 'MalformedTreeError' as const;
  constructor(readonly data: { detail: string }) {
    super(data.detail);
  }
}
