/**
 * Text someone else controls (a webhook caller, a git host's API) reduced to one bounded line
 * before it is written into an Event, a condition or a commit message: no line breaks that could
 * forge trailers or headers, no control characters or invisible text, and a length cap.
 */

// C0 and C1 controls (newline, carriage return, tab, escape...), DEL, and Unicode's own line and
// paragraph separators, bidi overrides and zero-width characters that could hide text.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]+/g;

/**
 * `text` as one line of at most `maxLength` characters: every run of control characters and line
 * separators becomes one space, runs of spaces collapse, and the end is cut with `...`.
 */
export function toOneLine(text: string, maxLength: number): string {
  // Cut before cleaning, so a huge input costs no more than the cap (plus slack for collapsed runs).
  const line = text
    .slice(0, maxLength * 4)
    .replace(UNSAFE, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (line.length <= maxLength) return line;
  // Never end on half of a surrogate pair.
  const cut = line.slice(0, maxLength - 3).replace(/[\ud800-\udbff]$/, '');
  return `${cut}...`;
}
