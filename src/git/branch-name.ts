/**
 * The branch names the engine accepts: git's check-ref-format rules for a branch (no component
 * starting with "." or ending in ".lock", no "..", no "//", no leading "-", no trailing "/" or "."),
 * narrowed to letters, digits and `._/-`, at most 255 characters. The CRD's pattern
 * (src/api/v1alpha1/schema.ts) checks the characters; the engine checks the rest before any fetch.
 */
export function isBranchName(name: string): boolean {
  return (
    /^[A-Za-z0-9._/-]{1,255}$/.test(name) &&
    !name.startsWith('-') &&
    !name.endsWith('.') &&
    !name.includes('..') &&
    name.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'))
  );
}
