/**
 * Preloaded into the server by reload-latency (`node --import …/reload-loop-probe.js dist/cli.js serve`):
 * how long the event loop was blocked, in time bins, so a blocked loop can be placed inside or outside a
 * reload. perf_hooks' `monitorEventLoopDelay` samples the loop with a 1 ms timer; every BIN_MS the
 * histogram's maximum (a block's length plus up to one sampling period) is kept with the bin's end time
 * and the histogram is reset. At exit the bins are written as JSON to $CLAIMGATE_LOOP_PROBE_FILE.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

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
  process.on('exit', () => writeFileSync(file, JSON.stringify({ binMs: BIN_MS, bins })));
}
