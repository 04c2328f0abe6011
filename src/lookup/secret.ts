/**
 * Client secrets and private keys come from a file or an environment variable, read when a config is
 * compiled (so a reload re-reads them), never from the config text itself and never logged.
 */
import { readFileSync } from 'node:fs';

export interface SecretRef {
  readonly file?: string;
  readonly env?: string;
}

/** Reads the secret; throws an Error naming where it looked (never the value). */
export function readSecret(ref: SecretRef, what: string): string {
  if (ref.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(ref.file, 'utf8');
    } catch (e) {
      throw new Error(`${what}: cannot read ${ref.file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    // A trailing newline is how editors and `echo` write files; it is never part of a secret.
    const value = text.replace(/\r?\n$/, '');
    if (value === '') throw new Error(`${what}: ${ref.file} is empty`);
    return value;
  }
  if (ref.env !== undefined) {
    const value = process.env[ref.env];
    if (value === undefined || value === '') throw new Error(`${what}: environment variable ${ref.env} is not set`);
    return value;
  }
  throw new Error(`${what}: no file or environment variable given`);
}
