import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'minio';
import { eventually } from './eventually.ts';
import { freePort, generateTlsPki } from './git-servers.ts';
import { trackedSpawn } from './tracked-process.ts';

/** The server lives as long as its handle; its fallback cleanup is the test file's end. */
const spawn = trackedSpawn('file');

/** A real S3-compatible server (Versity S3 Gateway over a temp directory) on 127.0.0.1. */
export interface S3Server {
  /** `127.0.0.1:<port>`, as a Bucket's `spec.endpoint` takes it. */
  endpoint: string;
  /** With `tls`: the PEM CA that signed the server's certificate. */
  caPem?: string;
  accessKey: string;
  secretKey: string;
  /** A client with the root credentials, to create buckets and objects as a CI pipeline would. */
  client: Client;
  /** Creates the bucket if missing and puts each object (key → content). */
  put(bucket: string, objects: Record<string, string>): Promise<void>;
  remove(bucket: string, keys: string[]): Promise<void>;
  stop(): Promise<void>;
}

let binary: string | undefined;

/** scripts/build-s3-server.sh builds versitygw once (install-test-prerequisites.sh does it before the tests). */
function serverBinary(): string {
  binary ??= execFileSync('bash', [join(import.meta.dirname, '../../scripts/build-s3-server.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return binary;
}

/** Serves the buckets under a fresh temp dir; with `tls`, HTTPS with a certificate from a fresh CA. */
export async function startS3Server(options: { tls?: boolean } = {}): Promise<S3Server> {
  const root = mkdtempSync(join(tmpdir(), 'kedge-s3-'));
  const data = join(root, 'data');
  mkdirSync(data);
  const port = await freePort();
  const accessKey = 'AKIAKEDGETEST';
  const secretKey = `secret-${Math.random().toString(36).slice(2)}`;
  const pki = options.tls ? generateTlsPki(root) : undefined;
  const tlsArgs = pki ? ['--cert', join(root, 'server.crt'), '--key', join(root, 'server.key')] : [];
  const child = spawn(serverBinary(), ['--port', `127.0.0.1:${port}`, '--quiet', ...tlsArgs, 'posix', data], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH, ROOT_ACCESS_KEY: accessKey, ROOT_SECRET_KEY: secretKey },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const { Client: MinioClient } = await import('minio');
    const { Agent } = await import('node:https');
    const client = new MinioClient({
      endPoint: '127.0.0.1',
      port,
      useSSL: pki !== undefined,
      accessKey,
      secretKey,
      pathStyle: true,
      ...(pki ? { transportAgent: new Agent({ ca: pki.caPem }) } : {}),
    });
    await eventually(() => client.listBuckets(), { what: `S3 server on 127.0.0.1:${port}` });
    return {
      endpoint: `127.0.0.1:${port}`,
      ...(pki ? { caPem: pki.caPem } : {}),
      accessKey,
      secretKey,
      client,
      async put(bucket, objects) {
        if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket);
        for (const [key, content] of Object.entries(objects)) await client.putObject(bucket, key, content);
      },
      async remove(bucket, keys) {
        for (const key of keys) await client.removeObject(bucket, key);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
