import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { DecryptionError } from './decryption-error.ts';
import type { Decryptor } from './decryptor.ts';
import { detectEncryptedFormat, formatForPath } from './sops-format.ts';
import { MAX_ENCRYPTED_FILE_BYTES } from './encrypted-sources.ts';

/** Annotation that opts one object out of decryption (value `disabled`, any case), as in Flux. */
export const DecryptAnnotation = 'kustomize.toolkit.fluxcd.io/decrypt';

interface Rendered {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, unknown> };
  sops?: { mac?: unknown };
  data?: Record<string, unknown>;
}

/**
 * Decrypts the rendered objects (YAML texts, kustomize's output) as Flux does after the build: an object with a
 * sops `mac` (an encrypted manifest, any kind) is decrypted whole; a Secret's `data` entry holding a sops document
 * is decrypted into the format its key names. Objects annotated `kustomize.toolkit.fluxcd.io/decrypt: disabled`
 * are left alone. Returns the texts with decrypted objects re-serialized; the others unchanged. On failure the
 * `DecryptionError` names the object and the file under `root` it came from, when one holds its MAC.
 */
export async function decryptDocuments(
  decryptor: Decryptor,
  docs: string[],
  root: () => Promise<string>,
): Promise<string[]> {
  const out: string[] = [];
  for (const doc of docs) {
    const obj = parse(doc) as Rendered | null;
    if (!obj || typeof obj !== 'object' || isDecryptionDisabled(obj)) {
      out.push(doc);
      continue;
    }
    const name = `${obj.kind ?? 'object'} '${[obj.metadata?.namespace, obj.metadata?.name].filter(Boolean).join('/')}'`;
    try {
      if (typeof obj.sops?.mac === 'string' && obj.sops.mac !== '') {
        const plain = await decryptor.decrypt(Buffer.from(JSON.stringify(obj)), 'json', 'json', name);
        out.push(stringify(JSON.parse(plain.toString('utf8'))));
      } else if (obj.kind === 'Secret' && obj.data && (await decryptSecretData(decryptor, obj.data, name))) {
        out.push(stringify(obj));
      } else {
        out.push(doc);
      }
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      const mac = typeof obj.sops?.mac === 'string' ? obj.sops.mac : undefined;
      const file = mac ? await fileHolding(await root(), mac) : undefined;
      throw file
        ? new DecryptionError(`${error.message.replace(name, `${name} (in ${file})`)}`, { cause: error })
        : error;
    }
  }
  return out;
}

function isDecryptionDisabled(obj: Rendered): boolean {
  const value = obj.metadata?.annotations?.[DecryptAnnotation];
  return typeof value === 'string' && value.toLowerCase() === 'disabled';
}

/** Decrypts in place every `data` entry that holds a sops document; true when one did. */
async function decryptSecretData(
  decryptor: Decryptor,
  data: Record<string, unknown>,
  name: string,
): Promise<boolean> {
  let changed = false;
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value.replace(/\s/g, ''))) continue;
    const bytes = Buffer.from(value, 'base64');
    const input = detectEncryptedFormat(bytes);
    if (!input) continue;
    const plain = await decryptor.decrypt(bytes, input, formatForPath(key), `${name} data '${key}'`);
    data[key] = plain.toString('base64');
    changed = true;
  }
  return changed;
}

/** The first file under `root` (relative to it) whose text holds `needle`; best effort, for messages. */
async function fileHolding(root: string, needle: string): Promise<string | undefined> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries.sort((a, b) => (a.parentPath + a.name < b.parentPath + b.name ? -1 : 1))) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (file.split(path.sep).includes('.git')) continue;
    const size = (await stat(file).catch(() => undefined))?.size ?? Infinity;
    if (size > MAX_ENCRYPTED_FILE_BYTES) continue;
    if ((await readFile(file, 'utf8').catch(() => '')).includes(needle)) return path.relative(root, file);
  }
  return undefined;
}
