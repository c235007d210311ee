import type { KObject } from '../../api/meta.ts';
import type { ResourceType } from '../resource-types.ts';
import { formatTable } from './table.ts';

export type OutputFormat = 'table' | 'wide' | 'yaml' | 'json';

export function parseOutputFormat(text: string): OutputFormat {
  if (text === 'table' || text === 'wide' || text === 'yaml' || text === 'json') return text;
  throw new Error(`--output must be table, wide, yaml or json, not '${text}'`);
}

/**
 * Objects as the user asked: a table (flux's columns), or the objects as YAML/JSON — one object alone when a
 * name was given, otherwise a `List` as kubectl prints it.
 */
export async function formatObjects(
  objects: KObject[],
  type: ResourceType,
  format: OutputFormat,
  options: { single: boolean; allNamespaces: boolean },
): Promise<string> {
  if (format !== 'table' && format !== 'wide') {
    const value = options.single && objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects };
    if (format === 'json') return JSON.stringify(value, null, 2);
    const { stringify } = await import('yaml');
    return stringify(value).trimEnd();
  }
  // `wide`: the type's extra columns too (App: the canary and what the proxy measured per revision).
  const columns = format === 'wide' ? [...type.columns, ...(type.wideColumns ?? [])] : type.columns;
  const headers = [...(options.allNamespaces ? ['NAMESPACE'] : []), 'NAME', ...columns.map((c) => c.header)];
  const rows = objects.map((o) => [
    ...(options.allNamespaces ? [o.metadata.namespace ?? 'default'] : []),
    o.metadata.name,
    ...columns.map((c) => c.value(o)),
  ]);
  return formatTable(headers, rows);
}
