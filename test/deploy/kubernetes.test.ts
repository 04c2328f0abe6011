/**
 * deploy/kubernetes (kustomize base + prometheus-operator and mtls overlays), deploy/istio and
 * deploy/envoy-gateway, checked offline:
 *  - `kubectl kustomize` (kubectl's built-in kustomize; kubectl comes with this kind of machine image)
 *    renders the base and the overlay; in CI a missing kubectl is a failure;
 *  - every rendered object, and every Istio object, passes the OpenAPI/CRD schema of its kind through
 *    the typed validators of `kubernetes-models` (+ `@kubernetes-models/prometheus-operator`,
 *    `@kubernetes-models/istio`): types, enums, required fields, formats. An object of a kind with no
 *    validator fails the test, so nothing is waved through;
 *  - the facts docs/deploy.md promises (probes, security context, ConfigMap directory mount, grace
 *    period longer than the drain, ports, NetworkPolicy peers, the ServiceMonitor's target) hold, and
 *    the ConfigMap's claimgate.yaml is a valid claimgate config;
 *  - the mtls overlay: cert-manager's `Certificate` has no model on npm that this project installs, so
 *    it is checked field by field against cert-manager's v1 API instead (allowed keys, required fields,
 *    enums, durations); the TLS Secret is mounted as a directory, the overlay's config is the base's
 *    plus a `tls:` block naming the mounted files, and the identities line up with
 *    deploy/envoy/envoy-mtls.yaml.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';
import { checkConfigText, parseConfigText } from '../../src/validation/load.js';
import { configSchema } from '../../src/config/schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML of any shape, read by path in assertions

function kustomize(dir: string): { available: boolean; status: number | null; objects: Json[]; stderr: string } {
  const run = spawnSync('kubectl', ['kustomize', path.join(ROOT, dir)], { encoding: 'utf8', timeout: 60_000 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT')
    return { available: false, status: null, objects: [], stderr: '' };
  const objects =
    run.status === 0
      ? parseAllDocuments(run.stdout)
          .map((d) => d.toJS() as Json)
          .filter((o) => o !== null)
      : [];
  return { available: true, status: run.status, objects, stderr: run.stderr };
}

/** Validator class per apiVersion/kind, from the typed model packages. */
async function modelFor(
  apiVersion: string,
  kind: string,
): Promise<(new (data: Json) => { validate(): void }) | undefined> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const modules: Record<string, string> = {
    '': `kubernetes-models/${version}`,
    apps: `kubernetes-models/apps/${version}`,
    autoscaling: `kubernetes-models/autoscaling/${version}`,
    policy: `kubernetes-models/policy/${version}`,
    'networking.k8s.io': `kubernetes-models/networking.k8s.io/${version}`,
    'monitoring.coreos.com': `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}`,
    'security.istio.io': `@kubernetes-models/istio/security.istio.io/${version}`,
    'install.istio.io': `@kubernetes-models/istio/install.istio.io/${version}`,
  };
  const specifier = modules[group!];
  if (specifier === undefined) return undefined;
  const module = (await import(specifier)) as Record<string, new (data: Json) => { validate(): void }>;
  return module[kind];
}

async function schemaProblems(objects: Json[]): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const id = `${object.apiVersion} ${object.kind} ${object.metadata?.name}`;
    const Model = await modelFor(object.apiVersion, object.kind);
    if (Model === undefined) {
      problems.push(`${id}: no schema validator for this kind`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (e) {
      problems.push(`${id}: ${(e as Error).message}`);
    }
  }
  return problems;
}

const base = kustomize('deploy/kubernetes/base');
const overlay = kustomize('deploy/kubernetes/overlays/prometheus-operator');
const mtls = kustomize('deploy/kubernetes/overlays/mtls');
const isCertManager = (o: Json) => String(o.apiVersion).startsWith('cert-manager.io/');

/** cert-manager `Certificate` (cert-manager.io/v1), checked by hand: every key must be one the API defines. */
const CERTIFICATE_SPEC_KEYS = new Set([
  'secretName',
  'secretTemplate',
  'issuerRef',
  'duration',
  'renewBefore',
  'renewBeforePercentage',
  'privateKey',
  'usages',
  'commonName',
  'dnsNames',
  'uris',
  'ipAddresses',
  'emailAddresses',
  'subject',
  'isCA',
  'literalSubject',
  'keystores',
  'revisionHistoryLimit',
  'encodeUsagesInRequest',
  'additionalOutputFormats',
  'nameConstraints',
  'otherNames',
  'signatureAlgorithm',
]);
const KEY_USAGES = new Set([
  'signing',
  'digital signature',
  'content commitment',
  'key encipherment',
  'key agreement',
  'data encipherment',
  'cert sign',
  'crl sign',
  'encipher only',
  'decipher only',
  'any',
  'server auth',
  'client auth',
  'code signing',
  'email protection',
  's/mime',
  'ipsec end system',
  'ipsec tunnel',
  'ipsec user',
  'timestamping',
  'ocsp signing',
  'microsoft sgc',
  'netscape sgc',
]);
const GO_DURATION = /^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/;

function certificateProblems(object: Json): string[] {
  const id = `${object.apiVersion} ${object.kind} ${object.metadata?.name}`;
  if (object.apiVersion !== 'cert-manager.io/v1' || object.kind !== 'Certificate')
    return [`${id}: no schema validator for this kind`];
  const problems: string[] = [];
  const spec = object.spec as Json | undefined;
  if (typeof object.metadata?.name !== 'string') problems.push(`${id}: metadata.name is required`);
  if (spec === undefined || typeof spec !== 'object') return [...problems, `${id}: spec is required`];
  for (const key of Object.keys(spec))
    if (!CERTIFICATE_SPEC_KEYS.has(key)) problems.push(`${id}: unknown field spec.${key}`);
  if (typeof spec.secretName !== 'string' || spec.secretName === '')
    problems.push(`${id}: spec.secretName is required`);
  const issuer = spec.issuerRef as Json | undefined;
  if (typeof issuer?.name !== 'string') problems.push(`${id}: spec.issuerRef.name is required`);
  for (const key of Object.keys(issuer ?? {}))
    if (!['name', 'kind', 'group'].includes(key)) problems.push(`${id}: unknown field spec.issuerRef.${key}`);
  for (const key of ['duration', 'renewBefore']) {
    if (spec[key] !== undefined && !GO_DURATION.test(String(spec[key])))
      problems.push(`${id}: spec.${key} must be a Go duration`);
  }
  for (const usage of (spec.usages as unknown[] | undefined) ?? [])
    if (!KEY_USAGES.has(String(usage))) problems.push(`${id}: unknown usage "${String(usage)}"`);
  const key = (spec.privateKey ?? {}) as Json;
  for (const k of Object.keys(key))
    if (!['algorithm', 'size', 'encoding', 'rotationPolicy'].includes(k))
      problems.push(`${id}: unknown field spec.privateKey.${k}`);
  if (key.algorithm !== undefined && !['RSA', 'ECDSA', 'Ed25519'].includes(key.algorithm))
    problems.push(`${id}: spec.privateKey.algorithm must be RSA, ECDSA or Ed25519`);
  if (key.rotationPolicy !== undefined && !['Never', 'Always'].includes(key.rotationPolicy))
    problems.push(`${id}: spec.privateKey.rotationPolicy must be Never or Always`);
  if (key.size !== undefined && !Number.isInteger(key.size))
    problems.push(`${id}: spec.privateKey.size must be integer`);
  for (const list of ['dnsNames', 'uris', 'ipAddresses', 'emailAddresses', 'usages']) {
    if (
      spec[list] !== undefined &&
      !(Array.isArray(spec[list]) && (spec[list] as unknown[]).every((v) => typeof v === 'string'))
    )
      problems.push(`${id}: spec.${list} must be a list of strings`);
  }
  if (
    ['commonName', 'dnsNames', 'uris', 'ipAddresses', 'emailAddresses', 'literalSubject'].every(
      (k) => spec[k] === undefined,
    )
  ) {
    problems.push(
      `${id}: at least one of commonName, dnsNames, uris, ipAddresses, emailAddresses or literalSubject is required`,
    );
  }
  return problems;
}
const find = (objects: Json[], kind: string, name = 'claimgate') =>
  objects.find((o) => o.kind === kind && o.metadata.name === name)!;

describe('kubectl kustomize', () => {
  it('kubectl is available (CI requires it)', () => {
    if (!base.available && process.env.CI)
      throw new Error('kubectl is not installed: deploy/kubernetes cannot be rendered');
    if (!base.available) console.warn('NOT CHECKED: kubectl is not installed here; the kustomize tests below fail');
    expect(base.available).toBe(true);
  });

  it('renders the base and the prometheus-operator overlay', () => {
    expect({ status: base.status, stderr: base.stderr }).toEqual({ status: 0, stderr: '' });
    expect({ status: overlay.status, stderr: overlay.stderr }).toEqual({ status: 0, stderr: '' });
    const kinds = (objects: Json[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds(base.objects)).toEqual([
      'ConfigMap/claimgate-config',
      'Deployment/claimgate',
      'HorizontalPodAutoscaler/claimgate',
      'Namespace/claimgate',
      'NetworkPolicy/claimgate',
      'PodDisruptionBudget/claimgate',
      'Service/claimgate',
      'Service/claimgate-grpc',
      'ServiceAccount/claimgate',
    ]);
    expect(kinds(overlay.objects)).toEqual([...kinds(base.objects), 'ServiceMonitor/claimgate'].sort());
    for (const o of overlay.objects)
      if (o.kind !== 'Namespace') expect([o.kind, o.metadata.namespace]).toEqual([o.kind, 'claimgate']);
  });

  it('renders the mtls overlay: the base plus the cert-manager Certificate, all in the claimgate namespace', () => {
    expect({ status: mtls.status, stderr: mtls.stderr }).toEqual({ status: 0, stderr: '' });
    const kinds = (objects: Json[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds(mtls.objects)).toEqual([...kinds(base.objects), 'Certificate/claimgate-tls'].sort());
    for (const o of mtls.objects)
      if (o.kind !== 'Namespace') expect([o.kind, o.metadata.namespace]).toEqual([o.kind, 'claimgate']);
  });
});

describe('schema validation of every rendered object (kubernetes-models)', () => {
  it('base and overlay objects are valid', async () => {
    expect(overlay.objects.length).toBeGreaterThan(0);
    expect(await schemaProblems(overlay.objects)).toEqual([]);
  });

  it('mtls overlay objects are valid (the Certificate by the hand-written cert-manager check)', async () => {
    expect(mtls.objects.length).toBeGreaterThan(0);
    expect(await schemaProblems(mtls.objects.filter((o) => !isCertManager(o)))).toEqual([]);
    const certificates = mtls.objects.filter(isCertManager);
    expect(certificates.length).toBe(1);
    expect(certificates.flatMap(certificateProblems)).toEqual([]);
  });

  it('the Certificate check catches real mistakes', () => {
    const certificate = structuredClone(mtls.objects.find(isCertManager)!);
    certificate.spec.secretname = certificate.spec.secretName;
    delete certificate.spec.secretName;
    certificate.spec.duration = '7d';
    certificate.spec.usages = ['server-auth'];
    certificate.spec.privateKey.algorithm = 'EC';
    const problems = [
      ...certificateProblems(certificate),
      ...certificateProblems({ ...certificate, kind: 'Issuer' }),
    ].join('\n');
    expect(problems).toMatch(/unknown field spec.secretname/);
    expect(problems).toMatch(/spec.secretName is required/);
    expect(problems).toMatch(/spec.duration must be a Go duration/);
    expect(problems).toMatch(/unknown usage "server-auth"/);
    expect(problems).toMatch(/algorithm must be RSA, ECDSA or Ed25519/);
    expect(problems).toMatch(/Issuer claimgate-tls: no schema validator/);
  });

  it('the validators catch real mistakes', async () => {
    const deployment = structuredClone(find(base.objects, 'Deployment'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = '9001';
    deployment.spec.replicas = 'two';
    const problems = await schemaProblems([
      deployment,
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
    ]);
    expect(problems.join('\n')).toMatch(/containerPort must be integer/);
    expect(problems.join('\n')).toMatch(/replicas must be integer/);
    expect(problems.join('\n')).toMatch(/Widget w: no schema validator/);
  });
});

describe('what the manifests promise', () => {
  const deployment = find(base.objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const configMap = find(base.objects, 'ConfigMap', 'claimgate-config');
  const config = parseConfigText(configMap.data['claimgate.yaml'], 'ConfigMap claimgate-config');
  const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
  const containerPort = (name: string) => container.ports.find((p: Json) => p.name === name).containerPort;

  it('ships a valid claimgate config listening on all interfaces at the container ports', () => {
    expect(portOf(config.server.grpc_address)).toBe(containerPort('grpc'));
    expect(portOf(config.server.admin_address)).toBe(containerPort('admin'));
    expect(config.server.grpc_address.startsWith('0.0.0.0:')).toBe(true);
    expect(configMap.metadata.name).toBe('claimgate-config'); // no hash suffix: updated in place, hot-reloaded
  });

  it('mounts the ConfigMap as a directory (not subPath) where the image reads the config', () => {
    const mount = container.volumeMounts.find((m: Json) => m.name === 'config');
    expect(mount).toEqual({ name: 'config', mountPath: '/etc/claimgate', readOnly: true });
    expect(pod.volumes).toContainEqual({ name: 'config', configMap: { name: 'claimgate-config' } });
    expect(container.volumeMounts.every((m: Json) => m.subPath === undefined)).toBe(true);
    expect(container.args).toEqual(['serve', '--config', '/etc/claimgate/claimgate.yaml']);
  });

  it('probes /healthz (liveness), /readyz (readiness) and the gRPC port (startup)', () => {
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(container.startupProbe.tcpSocket).toEqual({ port: 'grpc' });
  });

  it('runs non-root (numeric uid) with a read-only root filesystem and no capabilities', () => {
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toContain('USER 1000:1000');
    expect(container.securityContext).toEqual({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('sets requests and limits', () => {
    expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toEqual(expect.any(String));
  });

  it('allows longer to terminate than preStop plus the drain', () => {
    const preStopSeconds = Number(container.lifecycle.preStop.exec.command[1]);
    expect(container.lifecycle.preStop.exec.command[0]).toBe('sleep');
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + config.server.shutdown_grace_ms / 1000);
  });

  it('spreads replicas over zones and nodes', () => {
    expect(pod.topologySpreadConstraints.map((c: Json) => c.topologyKey).sort()).toEqual([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
    for (const c of pod.topologySpreadConstraints)
      expect(c.labelSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  it('exposes gRPC with appProtocol grpc on a ClusterIP and a headless Service, admin on the ClusterIP one', () => {
    const clusterIp = find(base.objects, 'Service');
    const headless = find(base.objects, 'Service', 'claimgate-grpc');
    expect(headless.spec.clusterIP).toBe('None');
    for (const service of [clusterIp, headless]) {
      expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
      expect(service.spec.ports.find((p: Json) => p.name === 'grpc')).toEqual({
        name: 'grpc',
        port: 9001,
        targetPort: 'grpc',
        protocol: 'TCP',
        appProtocol: 'grpc',
      });
    }
    expect(clusterIp.spec.ports.map((p: Json) => p.name)).toEqual(['grpc', 'admin']);
    expect(headless.spec.ports.map((p: Json) => p.name)).toEqual(['grpc']);
  });

  it('autoscales the Deployment on CPU and keeps one pod through disruptions', () => {
    const hpa = find(base.objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'claimgate' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    const pdb = find(base.objects, 'PodDisruptionBudget');
    expect(pdb.spec.maxUnavailable).toBeLessThan(hpa.spec.minReplicas);
    expect(pdb.spec.selector).toEqual(deployment.spec.selector);
  });

  it('lets only labelled proxies reach gRPC and only monitoring reach admin', () => {
    const policy = find(base.objects, 'NetworkPolicy');
    expect(policy.spec.podSelector).toEqual(deployment.spec.selector);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress).toEqual([
      {
        from: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'claimgate/ext-authz-client': 'true' } } }],
        ports: [{ port: 'grpc', protocol: 'TCP' }],
      },
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        ports: [{ port: 'admin', protocol: 'TCP' }],
      },
    ]);
  });

  it("the ServiceMonitor scrapes /metrics on the ClusterIP Service's admin port only", () => {
    const monitor = find(overlay.objects, 'ServiceMonitor');
    const clusterIp = find(base.objects, 'Service');
    const headless = find(base.objects, 'Service', 'claimgate-grpc');
    const selects = (service: Json) =>
      Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => service.metadata.labels[k] === v);
    expect([selects(clusterIp), selects(headless)]).toEqual([true, false]);
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'admin', path: '/metrics' })]);
  });
});

describe('the mtls overlay', () => {
  const deployment = find(mtls.objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const certificate = find(mtls.objects, 'Certificate', 'claimgate-tls');
  const configText = find(mtls.objects, 'ConfigMap', 'claimgate-config').data['claimgate.yaml'];
  // The TLS files come from the Secret cert-manager writes into the pod, not from this machine: every
  // other stage of the pipeline must pass, and its only problems are those files being absent here.
  const checked = checkConfigText(configText);
  const config = configSchema.parse(parse(configText));
  const tls = config.tls!;
  const mountPath = container.volumeMounts.find((m: Json) => m.name === 'tls').mountPath;
  const envoy = parse(readFileSync(path.join(ROOT, 'deploy/envoy/envoy-mtls.yaml'), 'utf8')) as Json;
  const upstreamTls = envoy.static_resources.clusters.find((c: Json) => c.name === 'claimgate').transport_socket
    .typed_config;

  it("ships a valid config that is the base's plus a tls block (mutual TLS, allow-listed proxy identity)", () => {
    const baseConfig = parse(find(base.objects, 'ConfigMap', 'claimgate-config').data['claimgate.yaml']) as Json;
    const { tls: tlsBlock, ...rest } = parse(configText) as Json;
    expect(rest).toEqual(baseConfig);
    expect(tlsBlock).toBeDefined();
    expect(checked.problems.length).toBeGreaterThan(0);
    for (const problem of checked.problems)
      expect(problem).toMatch(
        /^tls\.(cert_file|key_file|client_ca_file): cannot read \/etc\/claimgate-tls\/\S+: ENOENT$/,
      );
    expect(tls.client_ca_file).toBeDefined();
    expect(tls.allowed_clients).toEqual([
      expect.stringMatching(/^spiffe:\/\/cluster\.local\/ns\/[a-z0-9-]+\/sa\/[a-z0-9-]+$/),
    ]);
    expect(tls.reload_interval_seconds).toBeGreaterThan(0);
  });

  it('reads certificate, key and client CA from the Secret mounted as a directory (renewals reach the pod)', () => {
    expect(container.volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/claimgate-tls', readOnly: true });
    expect(container.volumeMounts.every((m: Json) => m.subPath === undefined)).toBe(true);
    expect(pod.volumes).toContainEqual({
      name: 'tls',
      secret: { secretName: certificate.spec.secretName, defaultMode: 0o440 },
    });
    expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup); // the key is group-readable, not world-readable
    expect([tls.cert_file, tls.key_file, tls.client_ca_file]).toEqual([
      `${mountPath}/tls.crt`,
      `${mountPath}/tls.key`,
      `${mountPath}/ca.crt`,
    ]);
    // Still the base pod otherwise: the config directory mount and the hardening are untouched.
    expect(container.volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/claimgate', readOnly: true });
    expect(pod.securityContext).toMatchObject(find(base.objects, 'Deployment').spec.template.spec.securityContext);
  });

  it('keeps the admin listener plain, on its own port, open to monitoring only', () => {
    const port = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
    expect(port(config.server.admin_address)).not.toBe(port(config.server.grpc_address));
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' }); // no scheme: HTTPS would be wrong
    expect(find(mtls.objects, 'NetworkPolicy')).toEqual(find(base.objects, 'NetworkPolicy'));
  });

  it("marks the Services' gRPC port as TLS, admin stays http", () => {
    for (const name of ['claimgate', 'claimgate-grpc']) {
      const service = find(mtls.objects, 'Service', name);
      expect(service.spec.ports.find((p: Json) => p.name === 'grpc')).toEqual({
        name: 'grpc',
        port: 9001,
        targetPort: 'grpc',
        protocol: 'TCP',
        appProtocol: 'tls',
      });
    }
    expect(find(mtls.objects, 'Service').spec.ports.find((p: Json) => p.name === 'admin').appProtocol).toBe('http');
  });

  it('issues a short-lived server certificate for the Service names, with the identity Envoy pins', () => {
    expect(certificate.spec.usages).toContain('server auth');
    expect(certificate.spec.dnsNames).toEqual(
      expect.arrayContaining(['claimgate.claimgate.svc', 'claimgate-grpc.claimgate.svc.cluster.local']),
    );
    expect(certificate.spec.privateKey.rotationPolicy).toBe('Always');
    const pinned = upstreamTls.common_tls_context.validation_context.match_typed_subject_alt_names;
    expect(pinned).toEqual([{ san_type: 'URI', matcher: { exact: certificate.spec.uris[0] } }]);
    expect(certificate.spec.dnsNames).toContain(upstreamTls.sni);
  });

  it("allows the client identity that deploy/envoy/envoy-mtls.yaml says Envoy's certificate carries", () => {
    const envoyHeader = readFileSync(path.join(ROOT, 'deploy/envoy/envoy-mtls.yaml'), 'utf8');
    for (const identity of tls.allowed_clients!) expect(envoyHeader).toContain(identity);
  });
});

describe('Istio and Envoy Gateway', () => {
  const load = (file: string) =>
    parseAllDocuments(readFileSync(path.join(ROOT, file), 'utf8')).map((d) => d.toJS() as Json);
  const mesh = load('deploy/istio/mesh-config.yaml');
  const policy = load('deploy/istio/authorization-policy.yaml');
  const eg = load('deploy/envoy-gateway/security-policy.yaml');
  const service = parse(
    readFileSync(path.join(ROOT, 'deploy/kubernetes/base/service.yaml'), 'utf8').split('\n---\n')[0]!,
  ) as Json;

  it('Istio objects pass their schemas', async () => {
    expect(await schemaProblems([...mesh, ...policy])).toEqual([]);
  });

  it('registers claimgate as an envoyExtAuthzGrpc provider that fails closed, with a timeout above the Check deadline', () => {
    const providers = mesh[0]!.spec.meshConfig.extensionProviders;
    expect(providers).toEqual([
      {
        name: 'claimgate',
        envoyExtAuthzGrpc: {
          service: `${service.metadata.name}.claimgate.svc.cluster.local`,
          port: 9001,
          timeout: '0.25s',
          failOpen: false,
          statusOnError: '503',
        },
      },
    ]);
  });

  it('the AuthorizationPolicy is CUSTOM with that provider', () => {
    expect(policy[0]!.spec).toMatchObject({ action: 'CUSTOM', provider: { name: 'claimgate' } });
  });

  it('the Envoy Gateway SecurityPolicy points extAuth.grpc at the claimgate Service, fails closed, and is allowed across namespaces', () => {
    const security = eg.find((o) => o.kind === 'SecurityPolicy')!;
    expect(security.apiVersion).toBe('gateway.envoyproxy.io/v1alpha1');
    expect(Object.keys(security.spec).sort()).toEqual(['extAuth', 'targetRefs']);
    expect(Object.keys(security.spec.extAuth).sort()).toEqual(['failOpen', 'grpc']);
    expect(security.spec.extAuth.failOpen).toBe(false);
    expect(security.spec.extAuth.grpc).toEqual({
      backendRefs: [{ name: 'claimgate', namespace: 'claimgate', port: 9001 }],
    });
    expect(security.spec.targetRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'api' }]);
    const grant = eg.find((o) => o.kind === 'ReferenceGrant')!;
    expect(grant.metadata.namespace).toBe('claimgate');
    expect(grant.spec.from).toEqual([
      { group: 'gateway.envoyproxy.io', kind: 'SecurityPolicy', namespace: security.metadata.namespace },
    ]);
    expect(grant.spec.to).toEqual([{ group: '', kind: 'Service', name: 'claimgate' }]);
  });
});
