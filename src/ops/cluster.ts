/**
 * Multi-core serving with node:cluster. The primary forks workers that each run a full claimgate on
 * the shared gRPC (and HTTP) listeners; the primary owns the admin listener, aggregating metrics and
 * readiness over its workers, forwards SIGHUP, restarts a worker that dies, and on SIGTERM drains
 * every worker before exiting 0.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { startAdminServer, type AdminStatus } from './admin-server.js';

/** IPC messages between primary and workers. */
type ToWorker = { readonly type: 'claimgate:status'; readonly id: number } | { readonly type: 'claimgate:reload' };
type ToPrimary = { readonly type: 'claimgate:status'; readonly id: number; readonly status: AdminStatus };

const STATUS_TIMEOUT_MS = 1000;
const RESTART_DELAY_MS = 1000;

export function workerCount(config: Config): number {
  return config.server.workers === 'auto' ? availableParallelism() : config.server.workers;
}

export const isClusterWorker = (): boolean => cluster.isWorker;

/** Worker side: report status to the primary, reload on request, and expose metrics for aggregation. */
export function serveWorkerIpc(handlers: { status: () => AdminStatus; reload: () => void; registry: Registry }): void {
  // Constructing one registers prom-client's worker-side IPC listener for metric requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([handlers.registry]);
  process.on('message', (message: ToWorker) => {
    if (message?.type === 'claimgate:status')
      process.send?.({ type: 'claimgate:status', id: message.id, status: handlers.status() } satisfies ToPrimary);
    else if (message?.type === 'claimgate:reload') handlers.reload();
  });
}

/** Primary side: runs until SIGTERM/SIGINT, then resolves after every worker has exited. */
export async function runPrimary(config: Config, log: Logger): Promise<void> {
  const count = workerCount(config);
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let nextId = 1;
  const pending = new Map<number, { statuses: AdminStatus[]; expected: number; resolve: (s: AdminStatus[]) => void }>();

  const onMessage = (message: ToPrimary) => {
    if (message?.type !== 'claimgate:status') return;
    const request = pending.get(message.id);
    if (!request) return;
    request.statuses.push(message.status);
    if (request.statuses.length === request.expected) request.resolve(request.statuses);
  };
  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', onMessage);
    return worker;
  };
  const live = (): Worker[] =>
    Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());

  const workerStatuses = (): Promise<AdminStatus[]> => {
    const workers = live();
    if (workers.length === 0) return Promise.resolve([]);
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // A worker that does not answer in time counts as not ready.
        const partial = pending.get(id)?.statuses ?? [];
        pending.delete(id);
        resolve(partial);
      }, STATUS_TIMEOUT_MS);
      pending.set(id, {
        statuses: [],
        expected: workers.length,
        resolve: (statuses) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(statuses);
        },
      });
      for (const w of workers) w.send({ type: 'claimgate:status', id } satisfies ToWorker);
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error({ worker: worker.id, code, signal }, 'worker exited; starting a replacement');
    setTimeout(() => {
      if (!stopping) fork();
    }, RESTART_DELAY_MS).unref();
  });
  for (let i = 0; i < count; i++) fork();

  const admin = await startAdminServer({
    address: config.server.admin_address,
    metrics: () => aggregator.clusterMetrics(),
    metricsContentType: aggregator.contentType,
    ready: async () => {
      if (stopping) return false;
      const statuses = await workerStatuses();
      return statuses.length === count && statuses.every((s) => s.ready);
    },
    status: async () => {
      const workers = await workerStatuses();
      const first = workers[0];
      return {
        ready: !stopping && workers.length === count && workers.every((s) => s.ready),
        config_loaded_at: first?.config_loaded_at ?? '',
        issuers: first?.issuers ?? [],
        workers,
      };
    },
    // Every key any worker publishes: during a rolling reload some workers may already sign with the new key.
    jwks: async () => {
      const keys = new Map<string, object>();
      for (const w of await workerStatuses())
        for (const k of w.upstream_identity_jwks?.keys ?? []) keys.set(String((k as { kid?: unknown }).kid), k);
      return keys.size === 0 ? undefined : { keys: [...keys.values()] };
    },
  });
  log.info({ workers: count, admin: config.server.admin_address, admin_port: admin.port }, 'claimgate primary started');

  process.on('SIGHUP', () => {
    log.info('SIGHUP: asking every worker to reload');
    for (const w of live()) w.send({ type: 'claimgate:reload' } satisfies ToWorker);
  });

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: draining every worker');
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      let remaining = workers.length;
      if (remaining === 0) resolve();
      for (const w of workers) {
        w.once('exit', () => {
          if (--remaining === 0) resolve();
        });
        w.process.kill('SIGTERM');
      }
      // Workers bound their own drain; this only guards against one that hangs.
      setTimeout(() => {
        for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
      }, config.server.shutdown_grace_ms + 5000).unref();
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  await admin.close();
}
