import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { secretValues } from '../api/core.ts';
import type { ObjectRef } from '../api/meta.ts';
import { refOf, refString } from '../api/meta.ts';
import { ReceiverKind, type Receiver } from '../api/receiver.ts';
import { errorMessage } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Store } from '../store/store.ts';
import { httpUrl, type ListenAddress } from '../web/listen-address.ts';
import { RateLimiter } from './rate-limiter.ts';
import { ReceiverValidationError } from './receiver-request.ts';
import { ReceiverBodyError } from './receiver-filter.ts';
import { receiverTargets, requestReconcile } from './receiver-resources.ts';
import { GOOGLE_CERTS_URL, GoogleIdTokenVerifier } from './google-id-token.ts';
import { OidcVerifiers } from './oidc-id-token.ts';
import { validateReceiverRequest, type ReceiverSecret, type ReceiverValidators } from './receiver-validation.ts';
import { safeEqual } from './timing-safe.ts';
import { webhookPath } from './webhook-path.ts';

/** Largest webhook body accepted (GitHub push payloads are far smaller in practice). */
export const MAX_WEBHOOK_BODY = 4 * 1024 * 1024;

export interface ReceiverServerOptions {
  address: ListenAddress;
  store: Store;
  log: Logger;
  /** Reconcile this object now (the engine's `manager.enqueue`). */
  enqueue(ref: ObjectRef): void;
  /** Authenticated requests per second per Receiver, with a burst of 4×. Default 5. */
  ratePerSecond?: number;
  /** Refused (unauthenticated) requests per second per client address, with a burst of 10×. Default 1. */
  failureRatePerSecond?: number;
  /** Where GCR receivers fetch the keys of Google's ID tokens. Default Google's ({@link GOOGLE_CERTS_URL}). */
  googleCertsUrl?: string;
}

export interface ReceiverServer {
  url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** The two budgets: authenticated requests per Receiver, refused requests per client address. */
interface Limits {
  authenticated: RateLimiter;
  failures: RateLimiter;
  /** Client addresses whose refusals are being throttled now (logged once per episode, not per request). */
  throttled: Set<string>;
}

/**
 * Serves Flux receivers on `POST /hook/<sha256>`: the path selects the Receiver (`status.webhookPath`), the
 * request is validated as the Receiver's type requires, and every selected resource gets the
 * `reconcile.fluxcd.io/requestedAt` annotation and an immediate reconcile. Unknown path 404, refused request
 * 400 (nothing triggered), suspended Receiver 503, too large 413, too many 429.
 *
 * Order: route → body size limit → signature/token verification → the Receiver's budget. Only requests that
 * passed verification spend the Receiver's budget, so unauthenticated traffic can never make a correctly
 * signed push wait. Refused requests have their own budget per client address (the socket's, never a
 * forwarded header a client could forge): past it they get 429 instead of 400 and are no longer logged one by
 * one. Every request is still verified, even from a throttled address: the address of a bad sender may be
 * the legitimate one's too (GitHub delivers every customer's hooks from the same addresses; proxies and NAT
 * share one), and verification costs at most one HMAC over a size-capped body (a GCR ID token: one RSA signature check,
 * and a fetch of Google's keys at most once a minute).
 */
export async function startReceiverServer(options: ReceiverServerOptions): Promise<ReceiverServer> {
  const rate = options.ratePerSecond ?? 5;
  const failureRate = options.failureRatePerSecond ?? 1;
  const limits: Limits = {
    authenticated: new RateLimiter(rate, 4 * rate),
    failures: new RateLimiter(failureRate, 10 * failureRate),
    throttled: new Set(),
  };
  const validators: ReceiverValidators = { google: new GoogleIdTokenVerifier(options.googleCertsUrl ?? GOOGLE_CERTS_URL), oidc: new OidcVerifiers() };
  const server: Server = createServer((req, res) => {
    handle(req, options, limits, validators).then(
      (message) => reply(res, 200, message),
      (error: unknown) => {
        if (error instanceof HttpError) return reply(res, error.status, error.message, error.retryAfterSeconds);
        options.log.error({ err: error }, 'receiver request failed');
        reply(res, 500, 'internal error');
      },
    );
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.address.port, options.address.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: httpUrl(options.address.host, port),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function reply(res: ServerResponse, status: number, message: string, retryAfterSeconds?: number): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', connection: 'close' };
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
  res.writeHead(status, headers).end(`${message}\n`);
}

async function handle(req: IncomingMessage, options: ReceiverServerOptions, limits: Limits, validators: ReceiverValidators): Promise<string> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (!/^\/hook\/[0-9a-f]{64}$/.test(path)) throw new HttpError(404, 'not found');
  const receiver = await findReceiver(options.store, path);
  if (!receiver?.spec) throw new HttpError(404, 'not found');
  const ref = refOf(receiver);
  const log = options.log.child({ receiver: refString(ref) });
  if (req.method !== 'POST') throw new HttpError(405, 'only POST is accepted');
  if (receiver.spec.suspend) throw new HttpError(503, 'receiver is suspended');
  const secret = await receiverSecret(options.store, receiver);
  // The path must still derive from the current token (a rotated token invalidates the old path).
  if (secret === undefined || !safeEqual(webhookPath(secret.token, ref.name, ref.namespace), path)) throw new HttpError(404, 'not found');
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_WEBHOOK_BODY) throw new HttpError(413, 'body too large');
  const body = await readBody(req);
  let verdict;
  try {
    verdict = await validateReceiverRequest(receiver.spec.type, { headers: req.headers, body }, secret, receiver.spec.events, validators, receiver.spec.oidcProviders);
  } catch (error) {
    if (!(error instanceof ReceiverValidationError)) throw error;
    throw refused(req, limits, log, error.message);
  }
  limits.throttled.delete(clientAddress(req));
  if (!limits.authenticated.take(refString(ref))) throw new HttpError(429, 'too many requests', 1);
  if (verdict.action === 'answer') return verdict.message;
  const at = new Date().toISOString();
  let selected;
  try {
    selected = await receiverTargets(options.store, receiver, { headers: req.headers, body }, verdict.claims);
  } catch (error) {
    if (error instanceof ReceiverBodyError) throw new HttpError(400, error.message);
    throw error;
  }
  const { targets, failures } = selected;
  for (const target of targets) {
    try {
      const annotated = await requestReconcile(options.store, refOf(target), at);
      if (annotated) options.enqueue(annotated);
    } catch (error) {
      log.error({ target: refString(refOf(target)) }, `failed to request reconcile: ${errorMessage(error)}`);
    }
  }
  log.info({ event: verdict.event, resources: targets.length }, 'webhook accepted, reconciles requested');
  // As Flux: the resources whose filter failed are reported and answered with 500, the others are requested.
  for (const failure of failures) log.error(`resource filter failed: ${failure}`);
  if (failures.length > 0) throw new HttpError(500, `resource filter failed for ${failures.length} resource(s)`);
  return `reconcile requested for ${targets.length} resource(s)`;
}

/** A refused request: 400, or 429 once its client address is past the budget for refused requests. */
function refused(req: IncomingMessage, limits: Limits, log: Logger, reason: string): HttpError {
  const client = clientAddress(req);
  if (limits.failures.take(client)) {
    limits.throttled.delete(client);
    log.warn({ client }, `webhook refused: ${reason}`);
    return new HttpError(400, 'validation failed');
  }
  if (!limits.throttled.has(client)) {
    if (limits.throttled.size >= 10_000) limits.throttled.clear(); // bounded: at worst a few more log lines
    limits.throttled.add(client);
    log.warn({ client }, `webhook refused: ${reason}; further refused requests from this address get 429 and are not logged until it slows down`);
  }
  return new HttpError(429, 'too many failed requests', 1);
}

/** The peer address of the connection (not X-Forwarded-For, which any client can set). */
function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

async function findReceiver(store: Store, path: string): Promise<Receiver | undefined> {
  const receivers = (await store.list(ReceiverKind)) as Receiver[];
  return receivers.find((r) => r.status?.webhookPath === path);
}

async function receiverSecret(store: Store, receiver: Receiver): Promise<ReceiverSecret | undefined> {
  // generic-oidc receivers have no secret: their path derives from an empty token, as Flux's.
  if (receiver.spec!.type === 'generic-oidc') return { token: '', data: {} };
  if (!receiver.spec!.secretRef) return undefined;
  const namespace = receiver.metadata.namespace ?? 'default';
  const secret = await store.get({ kind: 'Secret', namespace, name: receiver.spec!.secretRef.name });
  if (!secret) return undefined;
  const data = secretValues(secret);
  return data.token ? { token: data.token, data } : undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the cap the rest is drained unread, so the 413 can still be answered.
      if (size > MAX_WEBHOOK_BODY) reject(new HttpError(413, 'body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
