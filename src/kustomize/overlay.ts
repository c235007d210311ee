/**
 * The fields of a Flux `Kustomization` spec (kustomize.toolkit.fluxcd.io/v1) that change what is rendered,
 * besides `path` and `postBuild`. Names and shapes are Flux's, so a spec can be passed through unchanged.
 */
export interface KustomizeOverlay {
  /** Sets or overrides the namespace of every namespaced object (kustomize `namespace`). */
  targetNamespace?: string;
  /** Prepended to every object name (kustomize `namePrefix`, replacing one in the file). */
  namePrefix?: string;
  /** Appended to every object name (kustomize `nameSuffix`, replacing one in the file). */
  nameSuffix?: string;
  /** Strategic-merge or JSON6902 patches, appended after the file's own `patches`. */
  patches?: OverlayPatch[];
  /** Image overrides; one with the same `name` as an image in the file replaces it. */
  images?: OverlayImage[];
  /** Component directories, local and relative to `spec.path`, appended to the file's `components`. */
  components?: string[];
  /** Skip listed components that are missing from the artifact instead of failing. Default false. */
  ignoreMissingComponents?: boolean;
  /** Labels and annotations set on every rendered object's metadata after the build (not on selectors). */
  commonMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** One entry of `spec.patches`. */
export interface OverlayPatch {
  patch: string;
  target?: PatchSelector;
}

/** Kustomize's patch target selector; `name` and `namespace` are regular expressions. */
export interface PatchSelector {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  annotationSelector?: string;
}

/** One entry of `spec.images`. */
export interface OverlayImage {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}
