/**
 * Typed errors of the pull-request clients. Messages name the provider, the operation and the
 * host's answer (status and its short message), never the token.
 */
import { CodedError } from '../coded-error.js';

/** The host's API refused or failed a call. `transient`: worth retrying (5xx, 429, network). */
export class PullRequestApiError extends CodedError {
  readonly code = 'PullRequestApiError' as const;
  constructor(readonly data: { provider: string; operation: string; url: string; status?: number; detail: string; transient: boolean }) {
    super(`${data.provider} API: ${data.operation} at ${data.url} failed: ${data.status !== undefined ? `HTTP ${data.status}: ` : ''}${data.detail}`);
  }
}

/** The pull request settings cannot work as given (no token, a URL the provider cannot map). */
export class PullRequestConfigError extends CodedError {
  readonly code = 'PullRequestConfigError' as const;
  constructor(message: string) {
    super(message);
  }
}
