// The compose demo's upstream API: answers every request with JSON showing what it received — the
// identity headers claimgate set through Envoy, and the fact that the token itself was stripped.
// Demo only. Runs in the claimgate image (node, no dependencies): node /demo/echo.mjs
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8000);
const server = createServer((req, res) => {
  const identity = Object.fromEntries(Object.entries(req.headers).filter(([name]) => name.startsWith('x-user-')));
  const body = JSON.stringify(
    {
      method: req.method,
      path: req.url,
      identity,
      authorization_header_seen: req.headers.authorization !== undefined,
      headers: req.headers,
    },
    null,
    2,
  );
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(`${body}\n`);
});
server.listen(port, '0.0.0.0', () =>
  process.stderr.write(`${JSON.stringify({ level: 'info', msg: 'echo API listening', port })}\n`),
);
// PID 1 in a container: exit promptly on SIGTERM.
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => server.close(() => process.exit(0)));
