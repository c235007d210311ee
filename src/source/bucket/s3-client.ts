import type { Agent } from 'node:http';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { tunnelingAgent } from '../tunneling-agent.ts';

/** Where a bucket is and how to reach it (a Bucket's spec with its secrets resolved). */
export interface S3Location {
  /** `host[:port]`, no scheme. */
  endpoint: string;
  bucketName: string;
  /** Plain HTTP when true. */
  insecure?: boolean;
  region?: string;
  accessKey?: string;
  secretKey?: string;
  /** PEM CA bundle to trust (certSecretRef `ca.crt`). */
  ca?: string;
  /** `http://[user:pass@]host:port`: every connection is tunnelled through it with CONNECT. */
  proxyUrl?: string;
}

/** A bucket operation that failed, with what a person needs to fix it; `code` is S3's error code when it gave one. */
export class BucketError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'BucketError';
  }

  /** The server refused the credentials (as opposed to a network or storage failure). */
  get isAuthentication(): boolean {
    return this.code !== undefined && AUTH_CODES.has(this.code);
  }
}

const AUTH_CODES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'AuthorizationHeaderMalformed',
]);

/**
 * The S3 operations a Bucket source needs, on the MinIO client (the JavaScript sibling of the minio-go
 * client Flux's source-controller uses for the generic provider): path-style addressing, Signature V4.
 */
export class S3Client {
  private constructor(
    private readonly client: import('minio').Client,
    private readonly location: S3Location,
    private readonly agent: Agent | undefined,
  ) {}

  static async connect(location: S3Location): Promise<S3Client> {
    const { Client } = await import('minio');
    const { host, port } = splitEndpoint(location.endpoint, location.insecure === true);
    const secure = location.insecure !== true;
    const agent: Agent | undefined =
      location.proxyUrl || location.ca
        ? tunnelingAgent({ secure, ca: location.ca, proxyUrl: location.proxyUrl })
        : undefined;
    const client = new Client({
      endPoint: host,
      port,
      useSSL: secure,
      pathStyle: true,
      ...(location.accessKey ? { accessKey: location.accessKey, secretKey: location.secretKey ?? '' } : {}),
      ...(location.region ? { region: location.region } : {}),
      ...(agent ? { transportAgent: agent } : {}),
    });
    return new S3Client(client, location, agent);
  }

  /** Closes the connections of this client's own agent (CA or proxy); the shared global agents stay. */
  close(): void {
    this.agent?.destroy();
  }

  async bucketExists(): Promise<boolean> {
    try {
      return await this.client.bucketExists(this.location.bucketName);
    } catch (error) {
      throw this.failed(`failed to confirm existence of '${this.location.bucketName}' bucket`, error);
    }
  }

  /** Every object under `prefix` (recursive), with its ETag, in the server's order. */
  async listObjects(prefix: string, visit: (key: string, etag: string) => void): Promise<void> {
    const stream = this.client.listObjectsV2(this.location.bucketName, prefix, true);
    try {
      for await (const item of stream as AsyncIterable<{ name?: string; etag?: string; prefix?: string }>) {
        if (item.name !== undefined) visit(item.name, item.etag ?? '');
      }
    } catch (error) {
      throw this.failed(`indexation of objects from bucket '${this.location.bucketName}' failed`, error);
    }
  }

  /**
   * Downloads one object to `file` (parents created). Returns its ETag, or undefined when the object no
   * longer exists.
   */
  async download(key: string, file: string, signal?: AbortSignal): Promise<string | undefined> {
    let body: IncomingMessage;
    try {
      body = (await this.client.getObject(this.location.bucketName, key)) as IncomingMessage;
    } catch (error) {
      if (errorCode(error) === 'NoSuchKey' || errorCode(error) === 'NotFound') return undefined;
      throw this.failed(`failed to get '${key}' object`, error);
    }
    await mkdir(dirname(file), { recursive: true });
    try {
      await pipeline(body, createWriteStream(file, { mode: 0o644 }), { signal });
    } catch (error) {
      throw this.failed(`failed to get '${key}' object`, error);
    }
    return unquote(String(body.headers?.etag ?? ''));
  }

  /** Reads a small object as text; undefined when it does not exist. */
  async readText(key: string, limitBytes: number): Promise<string | undefined> {
    let body: IncomingMessage;
    try {
      body = (await this.client.getObject(this.location.bucketName, key)) as IncomingMessage;
    } catch (error) {
      if (errorCode(error) === 'NoSuchKey' || errorCode(error) === 'NotFound') return undefined;
      throw this.failed(`failed to get '${key}' object`, error);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limitBytes) {
        body.destroy();
        throw new BucketError(`'${key}' is larger than ${limitBytes} bytes`, undefined);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /** An error that names the operation and S3's own code and message, never a credential. */
  private failed(what: string, error: unknown): BucketError {
    const code = errorCode(error);
    const detail = describe(error);
    return new BucketError(`${what}: ${detail}`, code, { cause: error });
  }
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** S3's message (or the network error's code), without request ids or signatures. */
function describe(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string } } | undefined;
  if (e?.code && /^E[A-Z]+$/.test(e.code)) return `${e.code} (${e.message ?? 'network error'})`;
  if (e?.code) return `${e.code}: ${e.message ?? ''}`.trim();
  return e?.message ?? String(error);
}

function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}

/** `host[:port]` → host and port (default 80/443), IPv6 brackets removed. */
export function splitEndpoint(endpoint: string, insecure: boolean): { host: string; port: number } {
  const url = new URL(`${insecure ? 'http' : 'https'}://${endpoint}`);
  const port = url.port ? Number(url.port) : insecure ? 80 : 443;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}
