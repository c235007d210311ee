export { parseAuthChallenge, type AuthChallenge } from './auth-challenge.ts';
export { credentialsFromDockerConfig, DockerConfigError, type RegistryCredentials } from './docker-config.ts';
export { extractLayer, isGzipFile, LayerExtractError } from './extract-layer.ts';
export {
  CreatedAnnotation,
  fetchImageManifest,
  FluxConfigMediaType,
  FluxContentMediaType,
  pullFluxArtifact,
  pushFluxArtifact,
  RevisionAnnotation,
  SourceAnnotation,
  type ArtifactMetadata,
  type PulledArtifact,
  type PushedArtifact,
  type ResolvedManifest,
} from './flux-artifact.ts';
export { selectLayer, type Descriptor, type ImageManifest } from './manifest.ts';
export { OciError, type OciErrorKind } from './oci-error.ts';
export {
  formatRepository,
  isValidDigest,
  isValidTag,
  OCI_SCHEME,
  OciReferenceError,
  parseOciUrl,
  type OciArtifactAddress,
  type OciRepositoryAddress,
} from './oci-reference.ts';
export { RegistryClient, type RegistryClientOptions } from './registry-client.ts';
