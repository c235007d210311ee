import type { ServerResponse } from 'node:http';
import type { KedgeEvent } from '../../api/meta.ts';
import type { EventRecorder } from '../../runtime/event-recorder.ts';
import type { Store, WatchEvent } from '../../store/store.ts';
import { scrubEvent, summarize, type ObjectSummary } from './object-view.ts';

/** How long changes are gathered before one message goes out: well under the one-second promise. */
const FLUSH_MS = 100;
/** A comment line keeps idle connections (and proxies) open. */
const HEARTBEAT_MS = 15_000;

/**
 * The dashboard's live updates as server-sent events: one store watch and one event listener for the whole
 * server, whatever the number of open dashboards. Changes are coalesced per object for {@link FLUSH_MS} and
 * sent as one `changes` message (serialised once, written to every client): `{upserts, deletes}` of
 * {@link ObjectSummary}; recorded events go out as `event` messages.
 */
export class LiveStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly pending = new Map<string, ObjectSummary | null>();
  private timer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unwatch: () => void;
  private closed = false;

  constructor(
    store: Store,
    private readonly kinds: ReadonlySet<string>,
    events?: EventRecorder,
  ) {
    this.unwatch = store.watch(undefined, (event) => this.onChange(event));
    events?.onEvent((event) => this.onEvent(event));
    this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Streams to `res` until the client goes away. */
  attach(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  get clientCount(): number {
    return this.clients.size;
  }

  close(): void {
    this.closed = true;
    this.unwatch();
    clearInterval(this.heartbeat);
    clearTimeout(this.timer);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private onChange({ type, object }: WatchEvent): void {
    // Nobody watching: nothing to summarise (a client fetches the list after it connects).
    if (this.clients.size === 0 || !this.kinds.has(object.kind) || this.closed) return;
    const key = `${object.kind}/${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
    this.pending.set(key, type === 'DELETED' ? null : summarize(object));
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private onEvent(event: KedgeEvent): void {
    if (this.clients.size === 0 || !this.kinds.has(event.involvedObject.kind) || this.closed) return;
    this.broadcast(`event: event\ndata: ${JSON.stringify(scrubEvent(event))}\n\n`);
  }

  private flush(): void {
    this.timer = undefined;
    const upserts: ObjectSummary[] = [];
    const deletes: string[] = [];
    for (const [key, summary] of this.pending) {
      if (summary) upserts.push(summary);
      else deletes.push(key);
    }
    this.pending.clear();
    if (this.clients.size > 0)
      this.broadcast(`event: changes\ndata: ${JSON.stringify({ upserts, deletes })}\n\n`);
  }

  private broadcast(text: string): void {
    for (const client of this.clients) client.write(text);
  }
}
