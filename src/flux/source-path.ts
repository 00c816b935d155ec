/**
 * Paths inside a Flux source, as a Kustomization's `spec.path` names them (relative to the
 * source root, with or without `./` and a trailing `/`). One normalisation for the wait for
 * apply (which Kustomizations a change reaches) and for automated rollbacks (which path to revert).
 */
import { CodedError } from '../coded-error.js';

/** Thrown for a path that climbs out of the source root with `..`. */
export class PathOutsideSourceError extends CodedError {
  readonly code = 'PathOutsideSourceError' as const;
  constructor(readonly path: string | undefined) {
    super(`Kustomization path "${path}" leaves the repository root`);
  }
}

/** `./apps/frontend/`, `apps/frontend`, `/apps/frontend` -> `apps/frontend`; `./`, `` -> ``. */
export function normalizeSourcePath(path: string | undefined): string {
  const parts = (path ?? '').split('/').filter((part) => part !== '' && part !== '.');
  return parts.join('/');
}

/**
 * {@link normalizeSourcePath} for a path a rollback will revert: a `..` part throws
 * {@link PathOutsideSourceError} (kustomize-controller would clamp it to the root, so what the
 * author meant cannot be told).
 */
export function normalizeSourcePathInRoot(path: string | undefined): string {
  const normalized = normalizeSourcePath(path);
  if (normalized.split('/').includes('..')) throw new PathOutsideSourceError(path);
  return normalized;
}
