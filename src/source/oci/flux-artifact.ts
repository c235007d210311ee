import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { packArtifact } from '../artifact/pack-artifact.ts';
import { extractLayer, isGzipFile } from './extract-layer.ts';
import {
  OciManifestMediaType,
  isIndex,
  parseImageManifest,
  selectLayer,
  selectPlatformManifest,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
} from './manifest.ts';
import type { OciArtifactAddress } from './oci-reference.ts';
import type { RegistryClient } from './registry-client.ts';

/** Media types of `flux push artifact`: the config, and the tar.gz layer with the files. */
export const FluxConfigMediaType = 'application/vnd.cncf.flux.config.v1+json';
export const FluxContentMediaType = 'application/vnd.cncf.flux.content.v1.tar+gzip';

/** The OpenContainers annotations Flux writes on an artifact's manifest and reads back. */
export const SourceAnnotation = 'org.opencontainers.image.source';
export const RevisionAnnotation = 'org.opencontainers.image.revision';
export const CreatedAnnotation = 'org.opencontainers.image.created';

/** What `kedge push artifact` records about where the content came from. */
export interface ArtifactMetadata {
  /** The source's address (e.g. the Git URL): `org.opencontainers.image.source`. */
  source?: string;
  /** The source's revision (e.g. `main@sha1:…`): `org.opencontainers.image.revision`. */
  revision?: string;
  /** RFC 3339; default now. */
  created?: string;
  /** Further manifest annotations. */
  annotations?: Record<string, string>;
}

/** A pushed artifact: the manifest's digest and its annotations. */
export interface PushedArtifact {
  digest: string;
  annotations: Record<string, string>;
}

async function sha256File(file: string, gunzip = false): Promise<string> {
  const hash = createHash('sha256');
  const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) hash.update(chunk);
  };
  if (gunzip) await pipeline(createReadStream(file), createGunzip(), consume);
  else await pipeline(createReadStream(file), consume);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Packs `path` (a directory, or one file put at the archive's root) into a deterministic tar.gz in `scratch`,
 * leaving out what a source artifact leaves out (`.git`, and `ignorePaths` in .gitignore format, or Flux's
 * default exclusions without them).
 */
async function packLayer(path: string, scratch: string, ignorePaths: string[]): Promise<string> {
  const info = await stat(path).catch(() => {
    throw new Error(`path '${path}' does not exist`);
  });
  const out = join(scratch, 'layer.tar.gz');
  if (info.isDirectory()) {
    await packArtifact(path, out, ignorePaths.length > 0 ? { ignore: ignorePaths.join('\n') } : {});
    return out;
  }
  const stage = await mkdtemp(join(scratch, 'file-'));
  await copyFile(path, join(stage, basename(path)));
  await packArtifact(stage, out, { keepAll: true });
  return out;
}

/**
 * Pushes the files at `path` as a Flux artifact to `address` (its tag): an OCI manifest with Flux's config
 * media type, one `tar+gzip` content layer and the source/revision/created annotations, so Flux's
 * OCIRepository and `flux pull artifact` read it as they read their own. Blobs the registry has are not sent
 * again. Returns the manifest digest.
 */
export async function pushFluxArtifact(
  client: RegistryClient,
  address: OciArtifactAddress,
  path: string,
  metadata: ArtifactMetadata = {},
  options: { ignorePaths?: string[]; scratchDir?: string } = {},
): Promise<PushedArtifact> {
  const scratch = await mkdtemp(join(options.scratchDir ?? tmpdir(), 'kedge-push-'));
  try {
    const layerFile = await packLayer(path, scratch, options.ignorePaths ?? []);
    const layer: Descriptor = {
      mediaType: FluxContentMediaType,
      digest: await sha256File(layerFile),
      size: (await stat(layerFile)).size,
    };
    const created = metadata.created ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const annotations: Record<string, string> = {
      [CreatedAnnotation]: created,
      ...(metadata.source !== undefined ? { [SourceAnnotation]: metadata.source } : {}),
      ...(metadata.revision !== undefined ? { [RevisionAnnotation]: metadata.revision } : {}),
      ...metadata.annotations,
    };
    // The image config as go-containerregistry writes it for Flux: creation time and the layer's diff id.
    const config = Buffer.from(
      JSON.stringify({
        architecture: '',
        created,
        os: '',
        rootfs: { type: 'layers', diff_ids: [await sha256File(layerFile, true)] },
        config: {},
      }),
    );
    const configDescriptor: Descriptor = {
      mediaType: FluxConfigMediaType,
      digest: `sha256:${createHash('sha256').update(config).digest('hex')}`,
      size: config.length,
    };
    const { repository } = address;
    if (!(await client.blobExists(repository, configDescriptor.digest)))
      await client.uploadBlob(repository, { ...configDescriptor, open: () => config });
    if (!(await client.blobExists(repository, layer.digest)))
      await client.uploadBlob(repository, { ...layer, open: () => createReadStream(layerFile) });
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: OciManifestMediaType,
      config: configDescriptor,
      layers: [layer],
      annotations,
    };
    const digest = await client.putManifest(
      repository,
      address.tag ?? 'latest',
      OciManifestMediaType,
      Buffer.from(JSON.stringify(manifest)),
    );
    return { digest, annotations };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** What a reference resolves to: the digest it names (the revision's) and the image manifest to pull. */
export interface ResolvedManifest {
  /** Digest of what the tag points to (an index's own digest for a multi-platform index). */
  digest: string;
  manifest: ImageManifest;
}

/** Fetches the manifest `reference` names; for an index, the linux/amd64 (else first) image manifest in it. */
export async function fetchImageManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
): Promise<ResolvedManifest> {
  const where = `${client.registry}/${repository}`;
  const top = await client.getManifest(repository, reference);
  const parsed = JSON.parse(top.raw.toString('utf8')) as ImageIndex | ImageManifest;
  if (!isIndex(top.descriptor.mediaType, parsed as { manifests?: unknown }))
    return { digest: top.descriptor.digest, manifest: parseImageManifest(top.raw, where) };
  const chosen = selectPlatformManifest(parsed as ImageIndex, where);
  const image = await client.getManifest(repository, chosen.digest);
  return { digest: top.descriptor.digest, manifest: parseImageManifest(image.raw, where) };
}

/** A pulled artifact: its digest, its manifest annotations, and what was written. */
export interface PulledArtifact {
  digest: string;
  annotations: Record<string, string>;
  /** `extracted` (a tar.gz layer into the directory) or `copied` (any other layer, as one file). */
  written: 'extracted' | 'copied';
}

/**
 * Pulls the artifact `address` names (tag, digest, or `latest`) as `flux pull artifact` does: the layer with
 * `mediaType` (the first without), extracted into `outDir` when it is gzip, else written as `outDir/<file>`.
 */
export async function pullFluxArtifact(
  client: RegistryClient,
  address: OciArtifactAddress,
  outDir: string,
  options: { mediaType?: string; scratchDir?: string } = {},
): Promise<PulledArtifact> {
  const reference = address.digest ?? address.tag ?? 'latest';
  const resolved = await fetchImageManifest(client, address.repository, reference);
  const layer = selectLayer(resolved.manifest, options.mediaType);
  const scratch = await mkdtemp(join(options.scratchDir ?? tmpdir(), 'kedge-pull-'));
  try {
    const file = join(scratch, 'layer');
    await client.downloadBlob(address.repository, layer, file);
    const annotations = resolved.manifest.annotations ?? {};
    if (await isGzipFile(file)) {
      await extractLayer(file, outDir);
      return { digest: resolved.digest, annotations, written: 'extracted' };
    }
    const name = layer.annotations?.['org.opencontainers.image.title'] ?? layer.digest.replace(':', '-');
    await copyFile(file, join(outDir, basename(name)));
    return { digest: resolved.digest, annotations, written: 'copied' };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
