/** The file formats sops reads and writes (`--input-type`/`--output-type`). */
export type SopsFormat = 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary';

/**
 * The format sops gives a file by its name: `.yaml`/`.yml`, `.json`, `.env`, `.ini`, anything else binary — and,
 * as Flux adds, a name ending in `.dockerconfigjson` is JSON.
 */
export function formatForPath(name: string): SopsFormat {
  if (name.endsWith('.yaml') || name.endsWith('.yml')) return 'yaml';
  if (name.endsWith('.json') || name.endsWith('.dockerconfigjson')) return 'json';
  if (name.endsWith('.env')) return 'dotenv';
  if (name.endsWith('.ini')) return 'ini';
  return 'binary';
}

/**
 * The text only a sops-encrypted document of each format holds (its encrypted MAC), which is how Flux tells an
 * encrypted file or Secret value from a plain one. Binary files are encrypted into a JSON envelope, so they carry
 * JSON's marker.
 */
const MARKERS: Record<SopsFormat, string> = {
  binary: '"mac": "ENC[',
  json: '"mac": "ENC[',
  dotenv: 'sops_mac=ENC[',
  ini: '[sops]',
  yaml: 'mac: ENC[',
};

/** True when `data`, read as a file of `format`, is sops-encrypted. */
export function isEncryptedAs(data: Buffer | string, format: SopsFormat): boolean {
  return data.includes(MARKERS[format]);
}

/**
 * The format to read an encrypted value of unknown origin with (a Secret data entry), from its markers; undefined
 * when it carries none. A binary envelope is JSON, and sops reads it as such whatever the output format.
 */
export function detectEncryptedFormat(data: Buffer): SopsFormat | undefined {
  if (data.includes(MARKERS.json)) return 'json';
  if (data.includes(MARKERS.yaml)) return 'yaml';
  if (data.includes(MARKERS.dotenv)) return 'dotenv';
  if (data.includes(MARKERS.ini)) return 'ini';
  return undefined;
}
