/**
 * The PKI of a test control plane, made with the openssl CLI: a CA, the API server's serving
 * certificate (127.0.0.1 and localhost), an admin client certificate in group system:masters,
 * and the ServiceAccount token signing key.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Paths of the files written by {@link generateCertificates}. */
export interface CertificatePaths {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  /** RSA private key that signs ServiceAccount tokens (the API server derives the public key). */
  serviceAccountKey: string;
}

/** Names the admin client certificate carries: system:masters bypasses RBAC, like envtest's admin. */
export const ADMIN_USER = 'envtest-admin';
export const ADMIN_GROUP = 'system:masters';

/** Writes a fresh CA, serving and admin certificates and the ServiceAccount key into `dir`. */
export async function generateCertificates(dir: string): Promise<CertificatePaths> {
  await mkdir(dir, { recursive: true });
  const paths: CertificatePaths = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    servingCert: join(dir, 'serving.crt'),
    servingKey: join(dir, 'serving.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    serviceAccountKey: join(dir, 'service-account.key'),
  };
  await createCertificateAuthority(paths.caCert, paths.caKey);
  await Promise.all([
    createSignedCertificate(paths, paths.servingCert, paths.servingKey, {
      subject: '/CN=kube-apiserver',
      extensions: ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'extendedKeyUsage=serverAuth'],
    }),
    createSignedCertificate(paths, paths.adminCert, paths.adminKey, {
      subject: `/O=${ADMIN_GROUP}/CN=${ADMIN_USER}`,
      extensions: ['extendedKeyUsage=clientAuth'],
    }),
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', paths.serviceAccountKey]),
  ]);
  return paths;
}

/** Reads a PEM file written by {@link generateCertificates}. */
export function readPem(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

async function createCertificateAuthority(certPath: string, keyPath: string): Promise<void> {
  await openssl([
    'req',
    '-x509',
    '-nodes',
    '-days',
    '7',
    ...EC_KEY,
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-subj',
    '/CN=gitops-rollback-envtest-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

interface LeafSpec {
  subject: string;
  extensions: string[];
}

async function createSignedCertificate(ca: CertificatePaths, certPath: string, keyPath: string, spec: LeafSpec): Promise<void> {
  const csrPath = `${certPath}.csr`;
  const extPath = `${certPath}.ext`;
  await openssl(['req', '-new', '-nodes', ...EC_KEY, '-keyout', keyPath, '-out', csrPath, '-subj', spec.subject]);
  await writeFile(extPath, ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', ...spec.extensions].join('\n') + '\n');
  await openssl([
    'x509',
    '-req',
    '-in',
    csrPath,
    '-CA',
    ca.caCert,
    '-CAkey',
    ca.caKey,
    // A random serial avoids openssl's serial file, which parallel signings would race on.
    '-set_serial',
    `0x${randomBytes(16).toString('hex')}`,
    '-days',
    '7',
    '-extfile',
    extPath,
    '-out',
    certPath,
  ]);
}

// P-256 keys are generated instantly; RSA would cost ~100 ms each.
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}
