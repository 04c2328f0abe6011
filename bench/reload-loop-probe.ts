/**
 * Preloaded into the server by reload-latency (`node --import …/reload-loop-probe.js dist/cli.js serve`):
 * how long the event loop was blocked, in time bins, so a blocked loop can be placed inside or outside a
 * reload. perf_hooks' `monitorEventLoopDelay` samples the loop with a 1 ms timer; every BIN_MS the
 * histogram's maximum (a block's length plus up to one sampling period) is kept with the bin's end time
 * and the histogram is reset. GC pauses over 1 ms are kept too (a PerformanceObserver of `gc` entries),
 * with their end time and kind. At exit both are written as JSON to $CLAIMGATE_LOOP_PROBE_FILE.
 */
import { writeFileSync } from 'node:fs';
import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

const BIN_MS = 20;
const file = process.env.CLAIMGATE_LOOP_PROBE_FILE;

if (file !== undefined) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  /** [bin end (epoch ms), max delay in the bin (ms)], only bins over 1.5 ms (the idle loop's own jitter). */
  const bins: [number, number][] = [];
  const timer = setInterval(() => {
    const maxMs = histogram.max / 1e6;
    if (maxMs > 1.5) bins.push([Date.now(), maxMs]);
    histogram.reset();
  }, BIN_MS);
  timer.unref();
  /** [end (epoch ms), pause (ms), 'minor' | 'major' | other]. */
  const gcs: [number, number, string][] = [];
  const kinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? -1;
      if (entry.duration > 1)
        gcs.push([performance.timeOrigin + entry.startTime + entry.duration, entry.duration, kinds[kind] ?? 'other']);
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('exit', () => writeFileSync(file, JSON.stringify({ binMs: BIN_MS, bins, gcs })));
}
