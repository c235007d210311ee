import { randomBytes } from 'node:crypto';
import { DeliveryError } from './delivery-error.ts';
import type { FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import type { Notifier, NotifierConfig } from './notifier.ts';

/** A Sentry DSN (`https://<public key>@<host>/<project id>`) split into the envelope URL and the key. */
export interface SentryDsn {
  envelopeUrl: string;
  publicKey: string;
  secretKey?: string;
}

export function parseSentryDsn(dsn: string): SentryDsn {
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw new DeliveryError('invalid Sentry DSN: not a URL', false);
  }
  const segments = url.pathname.split('/').filter(Boolean);
  const project = segments.pop();
  if (!url.username || !project)
    throw new DeliveryError(
      `invalid Sentry DSN for ${url.host}: expected <scheme>://<public key>@<host>/<project id>`,
      false,
    );
  const prefix = segments.length > 0 ? `/${segments.join('/')}` : '';
  return {
    envelopeUrl: `${url.protocol}//${url.host}${prefix}/api/${project}/envelope/`,
    publicKey: decodeURIComponent(url.username),
    ...(url.password ? { secretKey: decodeURIComponent(url.password) } : {}),
  };
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

function transactionName(event: FluxEvent): string {
  const o = event.involvedObject;
  return `${o.kind}: ${o.namespace}/${o.name}`;
}

/**
 * The Sentry item Flux sends: errors become an error event (level `error`, the controller as server name,
 * metadata as a context); info events become a transaction of one span tagged with the object, the
 * controller, the reason and the metadata (Flux's tracing of successful reconciliations).
 */
export function sentryItem(
  event: FluxEvent,
  environment?: string,
): { type: 'event' | 'transaction'; payload: Record<string, unknown> } {
  const o = event.involvedObject;
  const common = {
    event_id: hex(16),
    platform: 'other',
    timestamp: event.timestamp,
    transaction: transactionName(event),
    message: event.message,
    ...(environment ? { environment } : {}),
  };
  if (event.severity === 'error') {
    return {
      type: 'event',
      payload: {
        ...common,
        level: 'error',
        server_name: event.reportingController,
        contexts: { metadata: { ...event.metadata } },
      },
    };
  }
  const tags: Record<string, string> = {
    flux_involved_object_kind: o.kind,
    flux_involved_object_namespace: o.namespace,
    flux_involved_object_name: o.name,
    flux_reporting_controller: event.reportingController,
    flux_reporting_instance: event.reportingInstance ?? '',
    flux_reason: event.reason,
    ...event.metadata,
  };
  const span = {
    trace_id: hex(16),
    span_id: hex(8),
    op: 'event',
    start_timestamp: event.timestamp,
    timestamp: event.timestamp,
    tags,
  };
  return {
    type: 'transaction',
    payload: {
      ...common,
      type: 'transaction',
      start_timestamp: event.timestamp,
      contexts: { trace: { trace_id: span.trace_id, span_id: span.span_id, op: 'event' } },
      tags,
      spans: [span],
    },
  };
}

/** An envelope of one item, as Sentry's ingestion API takes it: header line, item header line, payload. */
export function sentryEnvelope(
  item: { type: string; payload: Record<string, unknown> },
  dsn: string,
): string {
  const payload = JSON.stringify(item.payload);
  const header = { event_id: item.payload.event_id, sent_at: new Date().toISOString(), dsn };
  return `${JSON.stringify(header)}\n${JSON.stringify({ type: item.type, length: Buffer.byteLength(payload) })}\n${payload}\n`;
}

/** `sentry`: the event to the project of the DSN in the address; `channel` is the environment. */
export function sentryNotifier(config: NotifierConfig): Notifier {
  const dsn = parseSentryDsn(config.address);
  const auth = [
    `Sentry sentry_version=7`,
    `sentry_client=kedge/1`,
    `sentry_key=${dsn.publicKey}`,
    ...(dsn.secretKey ? [`sentry_secret=${dsn.secretKey}`] : []),
  ].join(', ');
  return {
    async post(event, signal) {
      const body = sentryEnvelope(sentryItem(event, config.channel), config.address);
      const headers = {
        ...config.headers,
        'content-type': 'application/x-sentry-envelope',
        'x-sentry-auth': auth,
      };
      await postHttp(dsn.envelopeUrl, body, { ...config.http, headers, signal });
    },
  };
}
