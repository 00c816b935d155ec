/**
 * Text a webhook caller controls (a Flux event's message and reason, an alert's name and summary)
 * reduced to one bounded line before it is kept in memory or written anywhere (Events, the
 * rollback's `spec.reason`, and from there the revert's commit message): no line breaks a caller
 * could use to forge trailers or headers, no control characters, and a length cap, as Kubernetes
 * bounds an Event's message.
 */

/** The longest event message a trigger keeps (characters). */
export const MAX_TRIGGER_MESSAGE = 256;
/** The longest reason (Flux event reason, alert name) a trigger keeps: the CRD's `reasons` items. */
export const MAX_TRIGGER_REASON = 128;
/** The longest revision a trigger may carry (Flux's `<ref>@sha1:<sha>`); longer is refused. */
export const MAX_TRIGGER_REVISION = 512;

export { toOneLine } from '../one-line.js';
