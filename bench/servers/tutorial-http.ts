/**
 * Scenario F baseline, "the tutorial approach": a plain node:http forward-auth server that verifies
 * the bearer token with `jsonwebtoken` and keys from `jwks-rsa` (its key cache on, as tutorials set
 * it), then checks the route's scope and answers with the same three identity headers. No framework
 * (Express would only add cost to the baseline).
 *
 *   node tutorial-http.js --jwks-uri http://127.0.0.1:P/jwks.json --issuer I --audience A --scope S --prefix /v1/orders
 * Prints `ready <port>` on stdout once listening on 127.0.0.1.
 */
import { createServer, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import jwt, { type GetPublicKeyOrSecret, type JwtPayload } from 'jsonwebtoken';
import jwksClient from 'jwks-rsa';

const { values } = parseArgs({
  options: {
    'jwks-uri': { type: 'string' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
    scope: { type: 'string' },
    prefix: { type: 'string', default: '/' },
    port: { type: 'string', default: '0' },
  },
});
const jwksUri = values['jwks-uri'];
const { issuer, audience, scope: requiredScope, prefix } = values;
if (!jwksUri || !issuer || !audience || !requiredScope)
  throw new Error('--jwks-uri, --issuer, --audience and --scope are required');

const client = jwksClient({
  jwksUri,
  cache: true,
  cacheMaxEntries: 5,
  cacheMaxAge: 600_000,
  rateLimit: true,
  jwksRequestsPerMinute: 10,
});

const getKey: GetPublicKeyOrSecret = (header, callback) => {
  client.getSigningKey(header.kid, (err, key) => {
    if (err || key === undefined) callback(err ?? new Error('no key'));
    else callback(null, key.getPublicKey());
  });
};

function answer(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-length': '0' });
  res.end();
}

const server = createServer((req, res) => {
  const auth = req.headers.authorization;
  const uri = req.headers['x-forwarded-uri'];
  if (typeof auth !== 'string' || !auth.startsWith('Bearer '))
    return answer(res, 401, { 'www-authenticate': 'Bearer' });
  jwt.verify(auth.slice(7), getKey, { algorithms: ['RS256'], issuer, audience }, (err, decoded) => {
    if (err || decoded === undefined || typeof decoded === 'string')
      return answer(res, 401, { 'www-authenticate': 'Bearer error="invalid_token"' });
    const claims = decoded as JwtPayload & { scope?: string; tenant?: string };
    if (typeof uri === 'string' && uri.startsWith(prefix ?? '/')) {
      const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
      if (!scopes.includes(requiredScope))
        return answer(res, 403, { 'www-authenticate': 'Bearer error="insufficient_scope"' });
    }
    answer(res, 200, {
      'x-user-id': String(claims.sub ?? ''),
      'x-tenant': String(claims.tenant ?? ''),
      'x-user-scopes': String(claims.scope ?? ''),
    });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`ready ${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
