import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateClusterPki, type ClusterPki } from './cluster-pki.ts';

let dir: string;
let pki: ClusterPki;
const cert = async (path: string): Promise<X509Certificate> => new X509Certificate(await readFile(path));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kedge-pki-'));
  pki = await generateClusterPki(join(dir, 'pki'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('generateClusterPki', () => {
  it('issues a serving certificate for 127.0.0.1 and localhost, signed by the CA', async () => {
    const [ca, serving] = [await cert(pki.caCert), await cert(pki.servingCert)];
    expect(serving.checkIssued(ca)).toBe(true);
    expect(serving.verify(ca.publicKey)).toBe(true);
    expect(serving.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(serving.checkHost('localhost')).toBe('localhost');
    expect(serving.checkHost('example.com')).toBeUndefined();
    expect(serving.keyUsage).toContain('1.3.6.1.5.5.7.3.1');
  });

  it('issues an admin client certificate in group system:masters', async () => {
    const admin = await cert(pki.adminCert);
    expect(admin.verify((await cert(pki.caCert)).publicKey)).toBe(true);
    expect(admin.subject).toContain('O=system:masters');
    expect(admin.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
  });

  it('writes a service-account key pair and keeps private keys unreadable by others', async () => {
    expect(createPrivateKey(await readFile(pki.serviceAccountKey)).asymmetricKeyType).toBe('ec');
    for (const key of [pki.caKey, pki.servingKey, pki.adminKey, pki.serviceAccountKey]) {
      expect((await stat(key)).mode & 0o077, key).toBe(0);
    }
  });
});
