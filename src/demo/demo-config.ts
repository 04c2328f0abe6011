/** The embedded default config the demo runs with; also a readable example of every main feature. */
export function demoConfigYaml(issuer: string, grpcAddress: string, adminAddress: string): string {
  return `# claimgate demo config (generated): one local issuer, three routes, three identity headers.
server:
  grpc_address: "${grpcAddress}"
  admin_address: "${adminAddress}"
logging:
  level: warn
realm: demo-api
issuers:
  - name: demo
    issuer: "${issuer}"
    allow_insecure_http: true   # loopback demo IdP only
    audiences: [https://api.example.com]
    algorithms: [RS256]
routes:
  - name: health
    match: { path: { exact: /healthz } }
    public: true
  - name: read-orders
    match: { methods: [GET], path: { template: "/orders/{id}" } }
    require: { scope: orders:read }
  - name: admin
    match: { path: { prefix: /admin } }
    require: { role: admin }
upstream:
  headers:
    - { name: x-user-id, claim: sub }
    - { name: x-user-scopes, claim: scope }
    - { name: x-user-roles, claim: roles }
  strip_token: true
`;
}
