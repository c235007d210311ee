import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { findKind } from './kinds.ts';
import type { KObject } from './meta.ts';
import { objectMetaInput } from './schema-helpers.ts';

/** One problem found in a manifest, with where it is. */
export interface ManifestProblem {
  file: string;
  /** 1-based position of the YAML document in its file. */
  document: number;
  /** `Kind namespace/name` when known. */
  object?: string;
  /** Dotted field path, e.g. `spec.ref.commit`. */
  field?: string;
  message: string;
}

/** Every problem of a set of manifests, reported at once. */
export class ManifestError extends Error {
  constructor(readonly problems: ManifestProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ManifestError';
  }
}

export function formatProblem(p: ManifestProblem): string {
  const where = `${p.file}: document ${p.document}${p.object ? ` (${p.object})` : ''}`;
  return `${where}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

const envelope = z.looseObject({
  apiVersion: z.string({ error: 'apiVersion is required' }),
  kind: z.string({ error: 'kind is required' }),
  metadata: objectMetaInput,
});

/** Validates and normalises objects parsed from YAML text. Throws {@link ManifestError} listing all problems. */
export function parseManifests(text: string, file: string): KObject[] {
  const objects: KObject[] = [];
  const problems: ManifestProblem[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    const document = index + 1;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push({ file, document, message: `invalid YAML: ${e.message.split('\n')[0]}` });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    const checked = validateObject(value, file, document);
    if ('problems' in checked) problems.push(...checked.problems);
    else objects.push(checked.object);
  });
  if (problems.length > 0) throw new ManifestError(problems);
  return objects;
}

function validateObject(
  value: unknown,
  file: string,
  document: number,
): { object: KObject } | { problems: ManifestProblem[] } {
  const head = envelope.safeParse(value);
  if (!head.success) return { problems: toProblems(head.error, file, document) };
  const { apiVersion, kind, metadata, ...rest } = head.data;
  const namespace = metadata.namespace ?? 'default';
  const object = `${kind} ${namespace}/${metadata.name}`;
  const info = findKind(apiVersion, kind);
  if (!info) {
    return { problems: [{ file, document, object, message: `kind ${kind} of apiVersion ${apiVersion} is not one Kedge stores` }] };
  }
  const { status: _ignored, ...body } = rest;
  const parsed = info.body.safeParse(body);
  if (!parsed.success) return { problems: toProblems(parsed.error, file, document, object) };
  return {
    object: { apiVersion, kind, metadata: { ...metadata, namespace }, ...(parsed.data as Record<string, unknown>) },
  };
}

function toProblems(error: z.ZodError, file: string, document: number, object?: string): ManifestProblem[] {
  return error.issues.map((issue) => {
    const field = issue.path.map(String).join('.') || undefined;
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => `'${k}'`).join(', ');
      return { file, document, object, field, message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}` };
    }
    return { file, document, object, field, message: issue.message };
  });
}

/** Reads manifests from files and directories (recursively, *.yaml and *.yml), in a stable order. */
export async function loadManifests(paths: string[]): Promise<KObject[]> {
  const files: string[] = [];
  for (const p of paths) files.push(...(await yamlFiles(p)));
  const objects: KObject[] = [];
  const problems: ManifestProblem[] = [];
  for (const file of files) {
    try {
      objects.push(...parseManifests(await readFile(file, 'utf8'), file));
    } catch (error) {
      if (error instanceof ManifestError) problems.push(...error.problems);
      else throw error;
    }
  }
  if (problems.length > 0) throw new ManifestError(problems);
  return objects;
}

async function yamlFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new Error(`${path}: no such file or directory`);
  if (!info.isDirectory()) return [path];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  const files: string[] = [];
  for (const entry of entries) {
    const full = join(path, entry.name);
    if (entry.isDirectory() && !entry.name.startsWith('.')) files.push(...(await yamlFiles(full)));
    else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) files.push(full);
  }
  return files;
}
