import { lstat, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { KustomizationFileNames } from '../generate.ts';
import { DecryptionError } from './decryption-error.ts';
import type { Decryptor } from './decryptor.ts';
import { formatForPath, isEncryptedAs, type SopsFormat } from './sops-format.ts';

/** Flux's limit on the size of a file to decrypt. */
export const MAX_ENCRYPTED_FILE_BYTES = 5 << 20;

/** A sops-encrypted file a kustomization's generator or patch reads. */
export interface EncryptedSource {
  /** Relative to the root, without symlinks (the same path in a copy of the root). */
  file: string;
  format: SopsFormat;
}

interface KustomizationRefs {
  resources?: unknown;
  components?: unknown;
  secretGenerator?: { files?: unknown; envs?: unknown; env?: unknown }[];
  patches?: { path?: unknown }[];
}

/**
 * The sops-encrypted files that the kustomization in `dir` and those it reaches through `resources` and
 * `components` (directories, recursively) read before the build, as Flux's decryptor finds them: `secretGenerator`
 * `files` (format from the key's extension: `.yaml`/`.yml`, `.json`, `.env`, `.ini`, `.dockerconfigjson`, else
 * binary) and `envs` (format from the file's extension, dotenv when that would be binary), and local `patches`
 * paths. A file counts when it holds the encrypted MAC marker of its format. References leading outside `root` or
 * to nothing are skipped (the confined build refuses or reports them); a file over 5 MiB fails, as in Flux.
 */
export async function findEncryptedSources(root: string, dir: string): Promise<EncryptedSource[]> {
  const realRoot = await realpath(root);
  const found = new Map<string, EncryptedSource>();
  const visited = new Set<string>();

  const visitFile = async (base: string, ref: string, format: SopsFormat): Promise<void> => {
    const real = await inside(realRoot, path.resolve(base, ref));
    if (!real || found.has(real)) return;
    const info = await lstat(real);
    if (!info.isFile()) return;
    const rel = path.relative(realRoot, real);
    if (info.size > MAX_ENCRYPTED_FILE_BYTES) {
      throw new DecryptionError(
        `cannot decrypt ${rel}: its size (${info.size} bytes) exceeds the limit (${MAX_ENCRYPTED_FILE_BYTES})`,
      );
    }
    if (isEncryptedAs(await readFile(real), format)) found.set(real, { file: rel, format });
  };

  const visitDir = async (candidate: string): Promise<void> => {
    const real = await inside(realRoot, candidate);
    if (!real || visited.has(real)) return;
    visited.add(real);
    if (!(await stat(real)).isDirectory()) return;
    const kus = await readKustomization(real);
    if (!kus) return;
    for (const gen of kus.secretGenerator ?? []) {
      for (const source of strings(gen.files)) {
        const [key, file] = source.includes('=')
          ? [source.slice(0, source.indexOf('=')), source.slice(source.indexOf('=') + 1)]
          : [source, source];
        await visitFile(real, file, formatForPath(key));
      }
      for (const env of [...strings(gen.envs), ...strings(gen.env)]) {
        const format = formatForPath(env);
        await visitFile(real, env, format === 'binary' ? 'dotenv' : format);
      }
    }
    for (const patch of kus.patches ?? []) {
      if (typeof patch?.path === 'string' && patch.path !== '' && !isRemote(patch.path)) {
        await visitFile(real, patch.path, formatForPath(patch.path));
      }
    }
    for (const ref of [...strings(kus.resources), ...strings(kus.components)]) {
      if (!isRemote(ref)) await visitDir(path.resolve(real, ref));
    }
  };

  await visitDir(dir);
  return [...found.values()];
}

/**
 * Decrypts each source in place under `root` (a private copy of the artifact, mode 0700, that the caller removes
 * right after the build): the file is replaced by its plaintext in the same format, readable by its owner only.
 * Returns the plaintexts, for redacting a failed build's message.
 */
export async function decryptSources(
  decryptor: Decryptor,
  root: string,
  sources: EncryptedSource[],
): Promise<Buffer[]> {
  const plaintexts: Buffer[] = [];
  for (const source of sources) {
    const file = path.join(root, source.file);
    const plain = await decryptor.decrypt(await readFile(file), source.format, source.format, source.file);
    await rm(file);
    await writeFile(file, plain, { mode: 0o600, flag: 'wx' });
    plaintexts.push(plain);
  }
  return plaintexts;
}

async function readKustomization(dir: string): Promise<KustomizationRefs | undefined> {
  for (const name of KustomizationFileNames) {
    const text = await readFile(path.join(dir, name), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    try {
      const value = parse(text) as unknown;
      return value && typeof value === 'object' ? value : undefined;
    } catch {
      return undefined; // the build reports the broken file
    }
  }
  return undefined;
}

/** The real path of `candidate` when it exists inside `realRoot`, else undefined. */
async function inside(realRoot: string, candidate: string): Promise<string | undefined> {
  const real = await realpath(candidate).catch(() => undefined);
  if (!real || (real !== realRoot && !real.startsWith(realRoot + path.sep))) return undefined;
  return real;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function isRemote(ref: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/]/i.test(ref) || /^git@/.test(ref);
}
