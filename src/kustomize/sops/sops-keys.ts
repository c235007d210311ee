import { createHash } from 'node:crypto';

/** Extensions of the decryption Secret's entries that hold keys, as in Flux's kustomize-controller. */
export const AgeKeyExtension = '.agekey';
export const PgpKeyExtension = '.asc';

/** One key entry of the decryption Secret: its name (for messages) and value. */
export interface SopsKeyEntry {
  name: string;
  value: string;
}

/**
 * The private keys a Kustomization decrypts with. Held in memory only; given to sops through its environment
 * (age) or a private GnuPG home (OpenPGP), never on a command line or in a file outside a private temp dir.
 */
export interface SopsKeys {
  /** age identity files (`AGE-SECRET-KEY-…` lines, comments allowed), one per `*.agekey` entry. */
  age: SopsKeyEntry[];
  /** ASCII-armored OpenPGP private keys, one per `*.asc` entry. */
  pgp: SopsKeyEntry[];
  /**
   * SHA-256 over the entries used (names and values): what a render cache key holds so that a changed key
   * renders anew — never the keys themselves.
   */
  digest: string;
  /** Where the keys come from, for messages: `Secret 'ns/name'`, or a file given to the CLI. */
  source: string;
}

/**
 * The keys in a decryption Secret's values (decoded `data` and `stringData`): every entry named `*.agekey` is an
 * age identity file, every `*.asc` an armored OpenPGP key; other entries (cloud KMS credentials) are not used.
 */
export function sopsKeysFromSecret(values: Record<string, string>, source: string): SopsKeys {
  const names = Object.keys(values)
    .filter((name) => name.endsWith(AgeKeyExtension) || name.endsWith(PgpKeyExtension))
    .sort();
  const hash = createHash('sha256');
  for (const name of names) hash.update(`${name}\0${values[name]}\0`);
  return {
    age: names.filter((n) => n.endsWith(AgeKeyExtension)).map((name) => ({ name, value: values[name]! })),
    pgp: names.filter((n) => n.endsWith(PgpKeyExtension)).map((name) => ({ name, value: values[name]! })),
    digest: `sha256:${hash.digest('hex')}`,
    source,
  };
}
