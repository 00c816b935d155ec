/**
 * The one convention for the operator's error classes: `code` is the class's name as a literal
 * type (what classify-error, the metrics and the engine worker's protocol go by), and `name` —
 * what logs and stack traces print — is the class's name too, set here once for every subclass.
 */
export abstract class CodedError extends Error {
  abstract readonly code: string;

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
