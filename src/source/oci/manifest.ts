/** An OCI content descriptor: what a manifest says about a blob or another manifest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
  artifactType?: string;
}

/** An image manifest (OCI or Docker v2 schema 2): a config and layers. */
export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** An image index (OCI) or manifest list (Docker): one manifest per platform. */
export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export const OciManifestMediaType = 'application/vnd.oci.image.manifest.v1+json';
export const OciIndexMediaType = 'application/vnd.oci.image.index.v1+json';
export const DockerManifestMediaType = 'application/vnd.docker.distribution.manifest.v2+json';
export const DockerManifestListMediaType = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** What a client accepts when it fetches a manifest. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  OciManifestMediaType,
  OciIndexMediaType,
  DockerManifestMediaType,
  DockerManifestListMediaType,
];

/** Whether a manifest of this media type (or this body) lists other manifests. */
export function isIndex(mediaType: string, parsed?: { manifests?: unknown }): boolean {
  return (
    mediaType === OciIndexMediaType ||
    mediaType === DockerManifestListMediaType ||
    Array.isArray(parsed?.manifests)
  );
}

/** Parses an image manifest, checking the fields a puller relies on. */
export function parseImageManifest(raw: Buffer, where: string): ImageManifest {
  let parsed: Partial<ImageManifest>;
  try {
    parsed = JSON.parse(raw.toString('utf8')) as Partial<ImageManifest>;
  } catch {
    throw new Error(`manifest of ${where} is not valid JSON`);
  }
  if (!Array.isArray(parsed.layers) || typeof parsed.config !== 'object' || parsed.config === null)
    throw new Error(`manifest of ${where} is not an image manifest (no config or layers)`);
  return parsed as ImageManifest;
}

/**
 * The manifest of an index to pull: linux/amd64 when listed (as go-containerregistry's default platform),
 * else the first. Flux's own artifacts are single manifests; an index shows up for multi-platform images.
 */
export function selectPlatformManifest(index: ImageIndex, where: string): Descriptor {
  const manifests = index.manifests ?? [];
  const chosen =
    manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ?? manifests[0];
  if (!chosen) throw new Error(`index of ${where} lists no manifests`);
  return chosen;
}

/**
 * The layer `mediaType` selects (the first with that media type), or the first layer without a selector, as
 * Flux's source-controller selects it.
 */
export function selectLayer(manifest: ImageManifest, mediaType: string | undefined): Descriptor {
  if (manifest.layers.length === 0) throw new Error('no layers found in artifact');
  if (!mediaType) return manifest.layers[0]!;
  const layer = manifest.layers.find((l) => l.mediaType === mediaType);
  if (!layer) throw new Error(`failed to find layer with media type '${mediaType}' in artifact`);
  return layer;
}
