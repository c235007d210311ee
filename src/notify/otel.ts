import { createHash, randomBytes } from 'node:crypto';
import { apiGroup, type FluxEvent } from './flux-event.ts';
import { DeliveryError } from './delivery-error.ts';
import { postHttp } from './http-post.ts';
import type { Notifier, NotifierConfig } from './notifier.ts';

/** The semantic conventions Flux's resource declares (semconv v1.34.0). */
export const OTEL_SCHEMA_URL = 'https://opentelemetry.io/schemas/1.34.0';
/** Flux's tracer (instrumentation scope) name. */
export const OTEL_SCOPE_NAME = 'flux:notification-controller';

/** OTLP enums, as the JSON encoding writes them (integers). */
const SPAN_KIND_INTERNAL = 1;
const STATUS_CODE_OK = 1;
const STATUS_CODE_ERROR = 2;
/** SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE | SPAN_FLAGS_CONTEXT_IS_REMOTE: the parent context is remote, as Flux makes it. */
const SPAN_FLAGS_REMOTE_PARENT = 0x100 | 0x200;

/** The kinds that start a deployment flow (root spans in Flux; here too every span is parentless). */
const SKIPPED_KINDS = new Set(['HelmRepository']);

type AnyValue = { stringValue: string };
type KeyValue = { key: string; value: AnyValue };

const attr = (key: string, value: string): KeyValue => ({ key, value: { stringValue: value } });

/**
 * A metadata value by Flux's short key (`revision`): Flux strips the `<group>/` prefix before notifying, Kedge's
 * events may still carry it, so both forms are read.
 */
function metadataValue(event: FluxEvent, key: string): string | undefined {
  const metadata = event.metadata ?? {};
  return metadata[key] ?? metadata[`${apiGroup(event.involvedObject.apiVersion)}/${key}`];
}

/** Flux's revision of an event: `<app-version>@<oci-digest>` for OCI artifacts, else `revision`, else `unknown`. */
export function otelRevision(event: FluxEvent): string {
  const digest = metadataValue(event, 'oci-digest');
  const appVersion = metadataValue(event, 'app-version');
  if (digest !== undefined && appVersion !== undefined) return `${appVersion}@${digest}`;
  return metadataValue(event, 'revision') ?? 'unknown';
}

/** Flux's trace id: the first 16 bytes of sha256(`<Alert uid>:<revision>`), hex — one trace per Alert and revision. */
export function otelTraceId(alertUid: string, revision: string): string {
  return createHash('sha256').update(`${alertUid}:${revision}`).digest('hex').slice(0, 32);
}

/** Nanoseconds since the epoch of an RFC 3339 time, as OTLP JSON writes fixed64 (a decimal string). */
function unixNano(ms: number): string {
  return (BigInt(Math.trunc(ms)) * 1_000_000n).toString();
}

/** The OTLP `ExportTraceServiceRequest` (JSON encoding) with Flux's one span for the event. */
export function otelTraceRequest(
  event: FluxEvent,
  alert: NonNullable<NotifierConfig['alert']>,
  now = Date.now(),
): unknown {
  const o = event.involvedObject;
  const attributes = [
    attr('object.uid', o.uid ?? ''),
    attr('object.kind', o.kind),
    attr('object.name', o.name),
    attr('object.namespace', o.namespace),
  ];
  for (const [key, value] of Object.entries(event.metadata ?? {})) attributes.push(attr(key, value));
  // The Go SDK keeps a status description for errors only.
  const status =
    event.severity === 'error'
      ? { code: STATUS_CODE_ERROR, message: event.message }
      : { code: STATUS_CODE_OK };
  const uid = alert.uid ?? '';
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            attr('service.name', `${alert.namespace}/${alert.name}`),
            attr('service.namespace', alert.namespace),
            attr('service.instance.id', uid),
          ],
        },
        scopeSpans: [
          {
            scope: { name: OTEL_SCOPE_NAME },
            spans: [
              {
                traceId: otelTraceId(uid, otelRevision(event)),
                spanId: randomBytes(8).toString('hex'),
                flags: SPAN_FLAGS_REMOTE_PARENT,
                name: `${o.kind}: ${o.namespace}/${o.name}`,
                kind: SPAN_KIND_INTERNAL,
                startTimeUnixNano: unixNano(
                  Number.isNaN(Date.parse(event.timestamp)) ? now : Date.parse(event.timestamp),
                ),
                endTimeUnixNano: unixNano(now),
                attributes,
                status,
              },
            ],
          },
        ],
        schemaUrl: OTEL_SCHEMA_URL,
      },
    ],
  };
}

/**
 * Headers of the OTLP request: the secret's `headers`, and unless they set `authorization`, basic auth when
 * `username` and `password` are given, else the bearer `token` (Flux: the password when there is no token).
 */
export function otelHeaders(config: NotifierConfig): Record<string, string> {
  const headers: Record<string, string> = { ...config.headers, 'content-type': 'application/json' };
  if (headers.authorization !== undefined) return headers;
  const username = config.basicAuth?.username ?? config.username;
  const token = config.token ?? config.password;
  if (username && config.password)
    headers.authorization = `Basic ${Buffer.from(`${username}:${config.password}`).toString('base64')}`;
  else if (!username && token) headers.authorization = `Bearer ${token}`;
  return headers;
}

/**
 * `otel`: each event as one OpenTelemetry span, POSTed as OTLP/HTTP JSON to the address verbatim (a
 * collector's `…/v1/traces`, as Flux's exporter takes the URL's path as is). The span is Flux's: trace id from
 * the Alert's uid and the revision, the object as attributes with the event metadata, status Error with the
 * message for error events and Ok otherwise, the Alert as the resource's service. HelmRepository events are
 * skipped, as Flux skips them.
 */
export function otelNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      if (SKIPPED_KINDS.has(event.involvedObject.kind)) return;
      const alert = config.alert;
      if (!alert)
        throw new DeliveryError('alert metadata not found: otel spans are named after the Alert', false);
      const body = JSON.stringify(otelTraceRequest(event, alert));
      await postHttp(config.address, body, { ...config.http, headers: otelHeaders(config), signal });
    },
  };
}
