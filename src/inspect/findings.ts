/** What `issuer inspect` reports: findings with a severity and a stable code. */
export type Severity = 'ok' | 'info' | 'warning' | 'error';

export interface Finding {
  readonly severity: Severity;
  /** Stable short code, for tools and tests. */
  readonly code: string;
  readonly message: string;
}

/** Records one finding. */
export type Note = (severity: Severity, code: string, message: string) => void;

/** A JSON array of strings, or undefined for anything else. */
export function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}
