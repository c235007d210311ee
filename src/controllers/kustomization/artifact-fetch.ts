import { createWriteStream } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extractArtifact } from '../../kustomize/safe-extract.ts';

/** What the controller needs to know of a source's `status.artifact`. */
export interface ArtifactRef {
  path: string;
  url: string;
  digest: string;
  revision: string;
}

/** The artifact could not be fetched, verified or extracted. */
export class ArtifactFetchError extends Error {
  override name = 'ArtifactFetchError';
  readonly reason = 'ArtifactFailed';
}

/** An extracted artifact; `dispose()` removes it. */
export interface ExtractedArtifact {
  root: string;
  dispose(): Promise<void>;
}

/**
 * Fetches an artifact, verifies its digest and extracts it safely into a fresh dir under `tmpRoot` (the
 * engine's `<data-dir>/tmp`, emptied at every start, so a crash mid-reconcile leaves nothing for good). When the artifact
 * lives in this engine's storage (`artifactRoot/<path>` exists) it is read from disk; otherwise it is
 * downloaded from `url`. Errors never carry the URL's credentials (artifact URLs carry none).
 */
export async function fetchArtifact(
  artifact: ArtifactRef,
  artifactRoot: string | undefined,
  signal?: AbortSignal,
  tmpRoot: string = tmpdir(),
): Promise<ExtractedArtifact> {
  const local = artifactRoot ? path.resolve(artifactRoot, artifact.path) : undefined;
  const inRoot = local && artifactRoot && local.startsWith(path.resolve(artifactRoot) + path.sep);
  let download: string | undefined;
  try {
    let file: string;
    if (inRoot && (await access(local).then(() => true, () => false))) {
      file = local;
    } else {
      download = await mkdtemp(path.join(tmpRoot, 'kedge-download-'));
      file = path.join(download, 'artifact.tar.gz');
      await httpDownload(artifact.url, file, signal);
    }
    const root = await extractArtifact(file, { digest: artifact.digest, tmpRoot }).catch((error: unknown) => {
      throw new ArtifactFetchError(`failed to extract artifact of revision '${artifact.revision}': ${(error as Error).message}`, { cause: error });
    });
    return { root, dispose: () => rm(root, { recursive: true, force: true }) };
  } finally {
    if (download) await rm(download, { recursive: true, force: true });
  }
}

async function httpDownload(url: string, file: string, signal?: AbortSignal): Promise<void> {
  const where = new URL(url);
  where.username = '';
  where.password = '';
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (error) {
    throw new ArtifactFetchError(`failed to download artifact from ${where.origin}${where.pathname}: ${(error as Error).message}`, { cause: error });
  }
  if (!response.ok || !response.body) {
    throw new ArtifactFetchError(`failed to download artifact from ${where.origin}${where.pathname}: HTTP ${response.status}`);
  }
  await pipeline(Readable.fromWeb(response.body), createWriteStream(file));
}
