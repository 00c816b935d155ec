/**
 * Where the Flux kinds we use live in the Kubernetes API: group, served version and plural, as
 * Flux's API modules declare them (`GroupVersion` in kustomize-controller/api/v1,
 * source-controller/api/v1 and image-automation-controller/api). Client calls and watch paths
 * take them from here, never from a string of their own.
 */

/** A resource of the API: what a custom-object call or a collection path needs. */
export interface ApiResource {
  group: string;
  version: string;
  plural: string;
}

export const FLUX_KUSTOMIZE_GROUP = 'kustomize.toolkit.fluxcd.io';
export const FLUX_SOURCE_GROUP = 'source.toolkit.fluxcd.io';
export const FLUX_IMAGE_GROUP = 'image.toolkit.fluxcd.io';

export const KUSTOMIZATION_RESOURCE: ApiResource = { group: FLUX_KUSTOMIZE_GROUP, version: 'v1', plural: 'kustomizations' };
export const GIT_REPOSITORY_RESOURCE: ApiResource = { group: FLUX_SOURCE_GROUP, version: 'v1', plural: 'gitrepositories' };

export const IMAGE_UPDATE_AUTOMATION_PLURAL = 'imageupdateautomations';
/** Newest first: Flux 2.7+ serves v1; older installations only v1beta2. */
export const IMAGE_UPDATE_AUTOMATION_VERSIONS = ['v1', 'v1beta2'] as const;
