/**
 * The safety gate a caller hands to the engine's `inspect` hook: reads the changed files at both
 * versions, judges them, keeps the verdict for the report, and throws SafetyCheckFailedError when
 * the verdict is Blocked, so nothing is published. Changed kustomization files are followed at
 * both versions (diff-kustomizations.ts), and unparsable files block unless allowed. Knows
 * nothing of git: the change is read through the small ChangeSource interface the engine's
 * inspected change satisfies.
 */
import { diffKustomizations } from './diff-kustomizations.js';
import { addKustomizationDiff, diffManifests, type ChangedFile } from './diff-manifests.js';
import { evaluateSafety, formatBlockedMessage, type SafetyPolicy, type SafetyVerdict } from './evaluate-safety.js';
import { isManifestPath } from './manifest-objects.js';
import { CodedError } from '../coded-error.js';

/** The computed change, as the engine presents it before publishing. */
export interface ChangeSource {
  changedPaths: string[];
  /** The file at the branch head; null when absent (or not a file). */
  readBefore(path: string): Promise<Uint8Array | null>;
  /** The file in the rollback's result; null when absent (or not a file). */
  readAfter(path: string): Promise<Uint8Array | null>;
}

/** The rollback deletes or changes protected objects, or changes files that do not parse; nothing was published. */
export class SafetyCheckFailedError extends CodedError {
  readonly code = 'SafetyCheckFailedError' as const;
  constructor(readonly data: { verdict: SafetyVerdict }) {
    super(formatBlockedMessage(data.verdict));
  }
}

export interface SafetyGate {
  /** Pass as the engine's `inspect`: throws SafetyCheckFailedError on a Blocked verdict. */
  inspect(change: ChangeSource): Promise<void>;
  /** The verdict of the last inspection (the engine inspects once per attempt). */
  readonly verdict: SafetyVerdict | undefined;
}

/** Files larger than this are not parsed (reported as unparsable): manifests are small. */
const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;

/** A gate for one request. */
export function createSafetyGate(policy: SafetyPolicy = {}): SafetyGate {
  let verdict: SafetyVerdict | undefined;
  return {
    async inspect(change) {
      const files = diffManifests(await readChangedFiles(change));
      const kustomizations = await diffKustomizations(
        change.changedPaths,
        (path) => change.readBefore(path),
        (path) => change.readAfter(path),
      );
      verdict = evaluateSafety(addKustomizationDiff(files, kustomizations), policy);
      if (verdict.verdict === 'Blocked') throw new SafetyCheckFailedError({ verdict });
    },
    get verdict() {
      return verdict;
    },
  };
}

/** Both versions of each changed manifest file; other files are listed without their content. */
export async function readChangedFiles(change: ChangeSource): Promise<ChangedFile[]> {
  const files: ChangedFile[] = [];
  for (const path of change.changedPaths) {
    if (!isManifestPath(path)) {
      files.push({ path, before: null, after: null });
      continue;
    }
    const before = decode(await change.readBefore(path));
    const after = decode(await change.readAfter(path));
    const errors = { ...(before.error ? { before: before.error } : {}), ...(after.error ? { after: after.error } : {}) };
    files.push({ path, before: before.text, after: after.text, ...(before.error || after.error ? { errors } : {}) });
  }
  return files;
}

function decode(bytes: Uint8Array | null): { text: string | null; error?: string } {
  if (bytes === null) return { text: null };
  if (bytes.byteLength > MAX_MANIFEST_BYTES) return { text: null, error: `larger than ${MAX_MANIFEST_BYTES / 1024 / 1024} MiB, not inspected` };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { text: null, error: 'not UTF-8 text' };
  }
}
