/** URL facts and fetch-failure wording shared by the onboarding commands. */
import { FetchError } from '../keys/fetch.js';

/** 127.0.0.0/8, ::1 or `localhost`: the only hosts plain HTTP is tolerated for. */
export function isLoopbackUrl(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A fetch failure in one line, with what to try for the usual causes. */
export function describeFetchError(error: unknown): string {
  if (!(error instanceof FetchError)) return error instanceof Error ? error.message : String(error);
  switch (error.code) {
    case 'network':
      return `${error.message} (IdP unreachable: check the URL, DNS, proxy and firewall)`;
    case 'timeout':
      return `${error.message} (IdP too slow or unreachable)`;
    case 'http_status':
      return `${error.message}${error.status === 404 ? ' (no discovery document here: is this the issuer URL?)' : ''}`;
    default:
      return `${error.code}: ${error.message}`;
  }
}
