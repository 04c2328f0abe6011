/**
 * Multi-core serving with node:cluster. The primary forks workers that each run a full claimgate on
 * the shared gRPC (and HTTP) listeners; the primary owns the admin listener, aggregating metrics and
 * readiness over its workers, forwards SIGHUP, restarts a worker that dies, and on SIGTERM drains
 * every worker before exiting 0.
 *
 * Readiness counts the workers that serve: a worker joins once it listens and answers IPC (it says
 * `claimgate:up`) and leaves when it exits. The primary is ready while at least one worker serves and
 * every serving worker is ready, so a worker that crashes and restarts does not pull the pod; a worker
 * still booting gets no connections (the primary hands connections only to workers that listen).
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type Registry, type RegistryContentType } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { startAdminServer, type AdminServer, type AdminStatus } from './admin-server.js';

/** IPC messages between primary and workers. */
type ToWorker = { readonly type: 'claimgate:status'; readonly id: number } | { readonly type: 'claimgate:reload' };
type ToPrimary =
  | { readonly type: 'claimgate:status'; readonly id: number; readonly status: AdminStatus }
  | { readonly type: 'claimgate:up' };

/** What the serving workers said about themselves; `unanswered` counts serving workers that did not answer. */
export interface WorkerStatuses {
  readonly statuses: AdminStatus[];
  readonly unanswered: number;
}

/** Ready while at least one worker serves and every serving worker answered that it is ready. */
export const clusterReady = (w: WorkerStatuses): boolean =>
  w.statuses.length > 0 && w.unanswered === 0 && w.statuses.every((s) => s.ready);

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
  // Called after the worker listens: from now on the primary counts it in readiness.
  process.send?.({ type: 'claimgate:up' } satisfies ToPrimary);
}

/** Primary side: runs until SIGTERM/SIGINT, then resolves after every worker has exited. */
export async function runPrimary(config: Config, log: Logger): Promise<void> {
  const count = workerCount(config);
  const aggregator = new AggregatorRegistry();
  const lifecycle = { stopping: false };
  const pool = startWorkers(count, log, lifecycle);
  const admin = await startClusterAdmin(config, log, aggregator, pool, lifecycle);
  log.info({ workers: count, admin: config.server.admin_address, admin_port: admin.port }, 'claimgate primary started');
  forwardReloads(log);
  await drainOnSignal(config, log, lifecycle);
  await admin.close();
}

/** Set once SIGTERM/SIGINT arrives: no more restarts, and the primary is no longer ready. */
interface Lifecycle {
  stopping: boolean;
}

interface WorkerPool {
  /** Asks every serving worker for its status. */
  statuses(): Promise<WorkerStatuses>;
}

/** Forks `count` workers, replaces one that dies (unless stopping), and collects their statuses over IPC. */
function startWorkers(count: number, log: Logger, lifecycle: Lifecycle): WorkerPool {
  let nextId = 1;
  /** Workers that listen and answer IPC, by cluster worker id. */
  const serving = new Map<number, Worker>();
  const pending = new Map<number, { statuses: AdminStatus[]; awaiting: Set<number>; done: () => void }>();

  const fork = (): Worker => {
    const worker = cluster.fork();
    // A status request can race a worker's death (its IPC channel closes): not a reason to stop the primary.
    worker.on('error', (e: Error) => log.warn({ worker: worker.id, err: e.message }, 'worker IPC error'));
    worker.on('message', (message: ToPrimary) => {
      if (message?.type === 'claimgate:up') serving.set(worker.id, worker);
      if (message?.type !== 'claimgate:status') return;
      const request = pending.get(message.id);
      if (!request?.awaiting.delete(worker.id)) return;
      request.statuses.push(message.status);
      if (request.awaiting.size === 0) request.done();
    });
    return worker;
  };

  const statuses = (): Promise<WorkerStatuses> => {
    const workers = [...serving.values()].filter((w) => w.isConnected() && !w.isDead());
    if (workers.length === 0) return Promise.resolve({ statuses: [], unanswered: 0 });
    const id = nextId++;
    return new Promise((resolve) => {
      const request = { statuses: [] as AdminStatus[], awaiting: new Set(workers.map((w) => w.id)), done: () => {} };
      // A serving worker that does not answer in time counts against readiness; one that exits meanwhile does not.
      const timer = setTimeout(() => request.done(), STATUS_TIMEOUT_MS);
      request.done = () => {
        clearTimeout(timer);
        pending.delete(id);
        resolve({ statuses: request.statuses, unanswered: request.awaiting.size });
      };
      pending.set(id, request);
      for (const w of workers) w.send({ type: 'claimgate:status', id } satisfies ToWorker);
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    serving.delete(worker.id);
    for (const request of pending.values()) {
      if (request.awaiting.delete(worker.id) && request.awaiting.size === 0) request.done();
    }
    if (lifecycle.stopping) return;
    log.error({ worker: worker.id, code, signal }, 'worker exited; starting a replacement');
    setTimeout(() => {
      if (!lifecycle.stopping) fork();
    }, RESTART_DELAY_MS).unref();
  });
  for (let i = 0; i < count; i++) fork();
  return { statuses };
}

/** The admin listener of the primary: metrics, readiness, status and JWKS aggregated over the workers. */
function startClusterAdmin(
  config: Config,
  log: Logger,
  aggregator: AggregatorRegistry<RegistryContentType>,
  pool: WorkerPool,
  lifecycle: Lifecycle,
): Promise<AdminServer> {
  return startAdminServer({
    address: config.server.admin_address,
    bounds: config.limits.admin,
    logger: log,
    metrics: () => aggregator.clusterMetrics(),
    metricsContentType: aggregator.contentType,
    ready: async () => {
      if (lifecycle.stopping) return false;
      return clusterReady(await pool.statuses());
    },
    status: async () => {
      const answer = await pool.statuses();
      const first = answer.statuses[0];
      return {
        ready: !lifecycle.stopping && clusterReady(answer),
        config_loaded_at: first?.config_loaded_at ?? '',
        issuers: first?.issuers ?? [],
        workers: answer.statuses,
      };
    },
    // Every key any worker publishes: during a rolling reload some workers may already sign with the new key.
    jwks: async () => {
      const keys = new Map<string, object>();
      for (const w of (await pool.statuses()).statuses)
        for (const k of w.upstream_identity_jwks?.keys ?? []) keys.set(String((k as { kid?: unknown }).kid), k);
      return keys.size === 0 ? undefined : { keys: [...keys.values()] };
    },
  });
}

function forwardReloads(log: Logger): void {
  process.on('SIGHUP', () => {
    log.info('SIGHUP: asking every worker to reload');
    for (const w of Object.values(cluster.workers ?? {}))
      if (w?.isConnected()) w.send({ type: 'claimgate:reload' } satisfies ToWorker);
  });
}

/** Resolves once SIGTERM/SIGINT has arrived and every worker has drained and exited. */
function drainOnSignal(config: Config, log: Logger, lifecycle: Lifecycle): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      if (lifecycle.stopping) return;
      lifecycle.stopping = true;
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
}
