import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startArtifactServer, type ArtifactServer } from '../src/source/artifact/index.ts';

let base: string;
let server: ArtifactServer;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'kedge-artsrv-'));
  mkdirSync(join(base, 'root/gitrepository/ns/app'), { recursive: true });
  writeFileSync(join(base, 'root/gitrepository/ns/app/abc.tar.gz'), 'artifact-bytes');
  writeFileSync(join(base, 'secret.txt'), 'outside the root');
  server = await startArtifactServer({ root: join(base, 'root') });
});
afterAll(async () => {
  await server.close();
  rmSync(base, { recursive: true, force: true });
});

/** Sends the raw path as is (fetch would normalise `..` away before it reaches the server). */
function get(
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('artifact server', () => {
  it('binds 127.0.0.1 and serves artifacts', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const res = await get('/gitrepository/ns/app/abc.tar.gz');
    expect(res).toMatchObject({ status: 200, body: 'artifact-bytes' });
    expect(res.headers['content-type']).toBe('application/gzip');
    expect(res.headers['content-length']).toBe('14');
  });

  it('answers HEAD without a body', async () => {
    expect(await get('/gitrepository/ns/app/abc.tar.gz', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  it.each(['POST', 'PUT', 'DELETE'])('refuses %s', async (method) => {
    expect((await get('/gitrepository/ns/app/abc.tar.gz', method)).status).toBe(405);
  });

  it.each(['/', '/gitrepository', '/gitrepository/ns/app/', '/gitrepository/ns/app/missing.tar.gz'])(
    '404s directories and missing files: %s',
    async (path) => {
      expect((await get(path)).status).toBe(404);
    },
  );

  it.each([
    '/../secret.txt',
    '/gitrepository/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E%2Fsecret.txt',
    '/gitrepository/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '/%00/secret.txt',
    '/%E0%A4%A/secret.txt',
  ])('rejects path escape %s', async (path) => {
    const res = await get(path);
    expect(res.status).toBe(404);
    expect(res.body).not.toContain('outside the root');
  });
});
