import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DevClusterError } from './dev-cluster-error.ts';

const run = promisify(execFile);

/** Paths of the PEM files of a dev cluster's PKI. Private keys are written with mode 0600. */
export interface ClusterPki {
  caCert: string;
  caKey: string;
  /** Serving certificate of kube-apiserver, valid for 127.0.0.1 and localhost. */
  servingCert: string;
  servingKey: string;
  /** Client certificate `CN=kedge-admin, O=system:masters`: full access under RBAC. */
  adminCert: string;
  adminKey: string;
  /** Service-account token signing key pair. */
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

/**
 * Generates a fresh CA, a serving certificate (SANs 127.0.0.1, localhost), an admin client certificate and
 * a service-account key pair in `dir` with the `openssl` binary. EC P-256 keys, valid for one year.
 * Overwrites what is there; throws `DevClusterError` (CertificatesFailed) naming the failed step.
 */
export async function generateClusterPki(dir: string): Promise<ClusterPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string): string => join(dir, name);
  const pki: ClusterPki = {
    caCert: file('ca.crt'),
    caKey: file('ca.key'),
    servingCert: file('apiserver.crt'),
    servingKey: file('apiserver.key'),
    adminCert: file('admin.crt'),
    adminKey: file('admin.key'),
    serviceAccountKey: file('sa.key'),
    serviceAccountPublicKey: file('sa.pub'),
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(dir, 'create the CA', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    pki.caKey,
    '-out',
    pki.caCert,
    '-days',
    '3650',
    '-subj',
    '/CN=kedge-dev-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  await issue(dir, pki, 'serving', pki.servingKey, pki.servingCert, '/CN=kube-apiserver', [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  await issue(dir, pki, 'admin', pki.adminKey, pki.adminCert, '/O=system:masters/CN=kedge-admin', [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
  await openssl(dir, 'create the service-account key', [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    pki.serviceAccountKey,
  ]);
  await openssl(dir, 'derive the service-account public key', [
    'pkey',
    '-in',
    pki.serviceAccountKey,
    '-pubout',
    '-out',
    pki.serviceAccountPublicKey,
  ]);
  return pki;
}

async function issue(
  dir: string,
  pki: ClusterPki,
  name: string,
  key: string,
  cert: string,
  subject: string,
  extensions: string[],
): Promise<void> {
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  await openssl(dir, `create the ${name} key and request`, [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    subject,
  ]);
  await writeFile(extFile, `${extensions.join('\n')}\n`);
  await openssl(dir, `sign the ${name} certificate`, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-CAcreateserial',
    '-days',
    '365',
    '-extfile',
    extFile,
    '-out',
    cert,
  ]);
  await rm(csr, { force: true });
  await rm(extFile, { force: true });
}

async function openssl(dir: string, step: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir, env: { ...process.env, OPENSSL_CONF: '/dev/null' } });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? '';
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new DevClusterError(
      'CertificatesFailed',
      missing
        ? 'cannot run openssl: install the openssl package'
        : `openssl failed to ${step} in ${dir}: ${stderr || String(error)}`,
      { cause: error },
    );
  }
}

/** Reads the PEM files a client needs: CA, client certificate and key. */
export async function readClientCredentials(
  pki: ClusterPki,
): Promise<{ ca: string; cert: string; key: string }> {
  const [ca, cert, key] = await Promise.all([
    readFile(pki.caCert, 'utf8'),
    readFile(pki.adminCert, 'utf8'),
    readFile(pki.adminKey, 'utf8'),
  ]);
  return { ca, cert, key };
}
