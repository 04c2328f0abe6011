/**
 * deploy/kubernetes (kustomize base + prometheus-operator overlay), deploy/istio and deploy/envoy-gateway,
 * checked offline:
 *  - `kubectl kustomize` (kubectl's built-in kustomize; kubectl comes with this kind of machine image)
 *    renders the base and the overlay; in CI a missing kubectl is a failure;
 *  - every rendered object, and every Istio object, passes the OpenAPI/CRD schema of its kind through
 *    the typed validators of `kubernetes-models` (+ `@kubernetes-models/prometheus-operator`,
 *    `@kubernetes-models/istio`): types, enums, required fields, formats. An object of a kind with no
 *    validator fails the test, so nothing is waved through;
 *  - the facts docs/deploy.md promises (probes, security context, ConfigMap directory mount, grace
 *    period longer than the drain, ports, NetworkPolicy peers, the ServiceMonitor's target) hold, and
 *    the ConfigMap's claimgate.yaml is a valid claimgate config.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function kustomize(dir: string): { available: boolean; status: number | null; objects: Json[]; stderr: string } {
  const run = spawnSync('kubectl', ['kustomize', path.join(ROOT, dir)], { encoding: 'utf8', timeout: 60_000 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') return { available: false, status: null, objects: [], stderr: '' };
  const objects = run.status === 0 ? parseAllDocuments(run.stdout).map((d) => d.toJS() as Json).filter((o) => o !== null) : [];
  return { available: true, status: run.status, objects, stderr: run.stderr };
}

/** Validator class per apiVersion/kind, from the typed model packages. */
async function modelFor(apiVersion: string, kind: string): Promise<(new (data: Json) => { validate(): void }) | undefined> {
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
const find = (objects: Json[], kind: string, name = 'claimgate') => objects.find((o) => o.kind === kind && o.metadata.name === name)!;

describe('kubectl kustomize', () => {
  it('kubectl is available (CI requires it)', () => {
    if (!base.available && process.env.CI) throw new Error('kubectl is not installed: deploy/kubernetes cannot be rendered');
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
    for (const o of overlay.objects) if (o.kind !== 'Namespace') expect([o.kind, o.metadata.namespace]).toEqual([o.kind, 'claimgate']);
  });
});

describe('schema validation of every rendered object (kubernetes-models)', () => {
  it('base and overlay objects are valid', async () => {
    expect(overlay.objects.length).toBeGreaterThan(0);
    expect(await schemaProblems(overlay.objects)).toEqual([]);
  });

  it('the validators catch real mistakes', async () => {
    const deployment = structuredClone(find(base.objects, 'Deployment'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = '9001';
    deployment.spec.replicas = 'two';
    const problems = await schemaProblems([deployment, { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }]);
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
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toContain('USER 1000:1000');
    expect(container.securityContext).toEqual({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
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
    expect(pod.topologySpreadConstraints.map((c: Json) => c.topologyKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const c of pod.topologySpreadConstraints) expect(c.labelSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  it('exposes gRPC with appProtocol grpc on a ClusterIP and a headless Service, admin on the ClusterIP one', () => {
    const clusterIp = find(base.objects, 'Service');
    const headless = find(base.objects, 'Service', 'claimgate-grpc');
    expect(headless.spec.clusterIP).toBe('None');
    for (const service of [clusterIp, headless]) {
      expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
      expect(service.spec.ports.find((p: Json) => p.name === 'grpc')).toEqual({ name: 'grpc', port: 9001, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' });
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
      { from: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'claimgate/ext-authz-client': 'true' } } }], ports: [{ port: 'grpc', protocol: 'TCP' }] },
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 'admin', protocol: 'TCP' }] },
    ]);
  });

  it("the ServiceMonitor scrapes /metrics on the ClusterIP Service's admin port only", () => {
    const monitor = find(overlay.objects, 'ServiceMonitor');
    const clusterIp = find(base.objects, 'Service');
    const headless = find(base.objects, 'Service', 'claimgate-grpc');
    const selects = (service: Json) => Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => service.metadata.labels[k] === v);
    expect([selects(clusterIp), selects(headless)]).toEqual([true, false]);
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'admin', path: '/metrics' })]);
  });
});

describe('Istio and Envoy Gateway', () => {
  const load = (file: string) => parseAllDocuments(readFileSync(path.join(ROOT, file), 'utf8')).map((d) => d.toJS() as Json);
  const mesh = load('deploy/istio/mesh-config.yaml');
  const policy = load('deploy/istio/authorization-policy.yaml');
  const eg = load('deploy/envoy-gateway/security-policy.yaml');
  const service = parse(readFileSync(path.join(ROOT, 'deploy/kubernetes/base/service.yaml'), 'utf8').split('\n---\n')[0]!) as Json;

  it('Istio objects pass their schemas', async () => {
    expect(await schemaProblems([...mesh, ...policy])).toEqual([]);
  });

  it('registers claimgate as an envoyExtAuthzGrpc provider that fails closed, with a timeout above the Check deadline', () => {
    const providers = mesh[0]!.spec.meshConfig.extensionProviders;
    expect(providers).toEqual([
      { name: 'claimgate', envoyExtAuthzGrpc: { service: `${service.metadata.name}.claimgate.svc.cluster.local`, port: 9001, timeout: '0.25s', failOpen: false, statusOnError: '503' } },
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
    expect(security.spec.extAuth.grpc).toEqual({ backendRefs: [{ name: 'claimgate', namespace: 'claimgate', port: 9001 }] });
    expect(security.spec.targetRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'api' }]);
    const grant = eg.find((o) => o.kind === 'ReferenceGrant')!;
    expect(grant.metadata.namespace).toBe('claimgate');
    expect(grant.spec.from).toEqual([{ group: 'gateway.envoyproxy.io', kind: 'SecurityPolicy', namespace: security.metadata.namespace }]);
    expect(grant.spec.to).toEqual([{ group: '', kind: 'Service', name: 'claimgate' }]);
  });
});
