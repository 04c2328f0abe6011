/**
 * Throwaway X.509 material for TLS tests, made with the openssl CLI (Debian `openssl`): CAs, a server
 * certificate for 127.0.0.1, and client certificates with SPIFFE URI SANs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: 'pipe' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT')
      throw new Error(
        `openssl is required for TLS tests (Debian package openssl)${process.env.CI ? ' and CI must install it' : ''}`,
      );
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'claimgate-pki-'));
  private serial = 1;

  /** A self-signed CA (EC P-256). */
  ca(name: string): CertFiles {
    const key = join(this.dir, `${name}.key`);
    const cert = join(this.dir, `${name}.crt`);
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign',
      ],
      this.dir,
    );
    return { cert, key };
  }

  /** A leaf certificate signed by `ca`, with the given subject CN and subjectAltName text. */
  leaf(name: string, ca: CertFiles, cn: string, san: string, usage: 'serverAuth' | 'clientAuth'): CertFiles {
    const key = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr`);
    const cert = join(this.dir, `${name}.crt`);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
    openssl(
      [
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        csr,
        '-subj',
        `/CN=${cn}`,
      ],
      this.dir,
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        ca.cert,
        '-CAkey',
        ca.key,
        '-set_serial',
        String(this.serial++),
        '-days',
        '2',
        '-out',
        cert,
        '-extfile',
        ext,
      ],
      this.dir,
    );
    return { cert, key };
  }

  read(path: string): Buffer {
    return readFileSync(path);
  }
}
