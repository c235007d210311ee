import type { HistoryView, ObjectDetail, ObjectSummary } from '../object-view.ts';

export type { HistoryView, ObjectDetail, ObjectSummary };

export interface KedgeEventView {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  involvedObject: { kind: string; namespace: string; name: string };
  reportingController: string;
  lastTimestamp: string;
  count: number;
}

export type ObjectPage = ObjectDetail & { events: KedgeEventView[]; history: HistoryView[] };

export function keyOf(o: { kind: string; namespace: string; name: string }): string {
  return `${o.kind}/${o.namespace}/${o.name}`;
}

async function json<T>(response: Response): Promise<T> {
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body;
}

export async function fetchObjects(): Promise<{ kinds: string[]; objects: ObjectSummary[] }> {
  return json(await fetch('/api/objects'));
}

export async function fetchObject(kind: string, namespace: string, name: string): Promise<ObjectPage> {
  return json(
    await fetch(
      `/api/objects/${encodeURIComponent(kind)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
    ),
  );
}

/** Runs an action; the custom header is the CSRF defence the server requires. */
export async function act(
  action: string,
  ref: { kind: string; namespace: string; name: string },
  extra: Record<string, unknown> = {},
): Promise<unknown> {
  return json(
    await fetch(`/api/actions/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kedge-request': '1' },
      body: JSON.stringify({ kind: ref.kind, namespace: ref.namespace, name: ref.name, ...extra }),
    }),
  );
}
