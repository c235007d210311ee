export { startArtifactServer, type ArtifactServer, type ArtifactServerOptions } from './artifact-server.ts';
export { ArtifactPathError, ArtifactStorage, type Artifact } from './artifact-storage.ts';
export { digestFile, packArtifact, type PackedArtifact, type PackOptions } from './pack-artifact.ts';
export {
  DEFAULT_PATTERNS,
  loadSourceIgnore,
  SOURCE_IGNORE_FILE,
  VCS_PATTERNS,
  type SourceIgnore,
} from './source-ignore.ts';
