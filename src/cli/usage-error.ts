/** A command line the CLI cannot run: the message is meant for the person at the terminal. */
import { CodedError } from '../coded-error.js';

export class UsageError extends CodedError {
  readonly code = 'UsageError' as const;
}
