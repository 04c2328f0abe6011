/**
 * A loopback service shaped like Auth0's Management API, for enrichment tests: `POST /oauth/token`
 * (client credentials with `client_secret_post` and an `audience`, as Auth0's M2M flow; answers
 * `access_token`, `expires_in`, `token_type`) and `GET /api/v2/users/{id}/roles` (Bearer token
 * required; an array of `{id, name, description}`, 404 for an unknown user). Counts requests; can be
 * stopped (connections refused) and restarted on the same port.
 * Shapes from https://auth0.com/docs/secure/tokens/access-tokens/management-api-access-tokens and
 * https://auth0.com/docs/api/management/v2/users/get-user-roles.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, listen } from './listen.js';

export const MANAGEMENT_CLIENT_ID = 'claimgate-m2m';

export interface ManagementApi {
  readonly baseUrl: string;
  /** The API identifier to ask a token for (`https://TENANT/api/v2/`). */
  readonly audience: string;
  readonly clientSecret: string;
  /** Roles the API holds per user id. */
  readonly roles: Map<string, string[]>;
  tokensIssued(): number;
  roleLookups(): number;
  /** Make the token endpoint answer 503 (the roles endpoint keeps working). */
  setTokenEndpointDown(down: boolean): void;
  /** Lifetime of the tokens it issues from now on. */
  setTokenLifetime(seconds: number): void;
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startManagementApi(): Promise<ManagementApi> {
  const clientSecret = randomUUID();
  const valid = new Set<string>();
  const roles = new Map<string, string[]>();
  let issued = 0;
  let lookups = 0;
  let lifetime = 86400;
  let tokenEndpointDown = false;
  let audience = '';

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && url.pathname === '/oauth/token') {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        if (tokenEndpointDown) return send(503, { error: 'temporarily_unavailable' });
        const form = new URLSearchParams(text);
        if (form.get('grant_type') !== 'client_credentials') return send(400, { error: 'unsupported_grant_type' });
        if (form.get('client_id') !== MANAGEMENT_CLIENT_ID || form.get('client_secret') !== clientSecret)
          return send(401, { error: 'access_denied', error_description: 'Unauthorized' });
        if (form.get('audience') !== audience) return send(403, { error: 'access_denied' });
        issued++;
        const token = `m2m-${randomUUID()}`;
        valid.add(token);
        send(200, { access_token: token, expires_in: lifetime, token_type: 'Bearer', scope: 'read:users read:roles' });
      });
      return;
    }
    const m = /^\/api\/v2\/users\/([^/]+)\/roles$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      lookups++;
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (bearer === undefined || !valid.has(bearer)) return send(401, { statusCode: 401, error: 'Unauthorized' });
      const userRoles = roles.get(decodeURIComponent(m[1]!));
      if (userRoles === undefined) return send(404, { statusCode: 404, error: 'Not Found' });
      return send(
        200,
        userRoles.map((name, i) => ({ id: `rol_${i}`, name, description: `${name} role` })),
      );
    }
    send(404, { statusCode: 404, error: 'Not Found' });
  });
  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  audience = `${baseUrl}/api/v2/`;
  return {
    baseUrl,
    audience,
    clientSecret,
    roles,
    tokensIssued: () => issued,
    roleLookups: () => lookups,
    setTokenLifetime: (seconds) => void (lifetime = seconds),
    setTokenEndpointDown: (down) => void (tokenEndpointDown = down),
    stop: () => closeServer(server),
    restart: async () => {
      await listen(server, port);
    },
    close: () => closeServer(server),
  };
}
