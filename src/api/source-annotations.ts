/*
 * Annotations the Kustomization store target sets on the Apps it applies, naming the source they came from.
 * A module of their own, free of schemas, so that the CLI can read them without loading zod.
 */

/** Set by the Kustomization that applied the App: the artifact (relative to `<dataDir>/artifacts`) it came from. */
export const SourceArtifactAnnotation = 'kedge.dev/source-artifact';
/** Set beside {@link SourceArtifactAnnotation}: the source revision of that artifact (`main@sha1:…`). */
export const SourceRevisionAnnotation = 'kedge.dev/source-revision';
