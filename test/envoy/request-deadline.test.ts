/**
 * The sweeping deadline for half-open gRPC calls: one timer, injected here (no sleeps), expires every call
 * whose request has not arrived within the timeout and never one that has. Then the same through a real
 * grpc-js server on loopback: a stream that sends half a message is cancelled with DEADLINE_EXCEEDED when
 * the injected timer sweeps, and a complete Check is answered as usual.
 */
import { connect, constants as h2 } from 'node:http2';
import { requestDeadlines, type Ticker } from '../../src/envoy/request-deadline.js';
import { startGrpcServer } from '../../src/envoy/server.js';
import { AUTHORIZATION_SERVICE } from '../../src/envoy/proto.js';
import type { Decision } from '../../src/core/types.js';
import { GRPC_BOUNDS } from '../../src/net/listener-bounds.js';

/** A ticker the test drives: `tick()` runs one sweep; `running` tells whether the timer is started. */
function manualTicker() {
  let tick: (() => void) | undefined;
  const periods: number[] = [];
  const ticker: Ticker = {
    start(periodMs, run) {
      periods.push(periodMs);
      tick = run;
      return () => {
        tick = undefined;
      };
    },
  };
  return {
    ticker,
    periods,
    running: () => tick !== undefined,
    tick: (times = 1) => {
      for (let i = 0; i < times; i++) tick?.();
    },
  };
}

describe('requestDeadlines (one sweeping timer)', () => {
  it('expires an unsettled call after the timeout (five sweeps of a quarter), never before', () => {
    const clock = manualTicker();
    const deadlines = requestDeadlines(1000, clock.ticker);
    let expired = 0;
    deadlines.watch(() => expired++);
    expect(clock.periods).toEqual([250]);
    clock.tick(4); // 1000 ms at most since the call started: not yet
    expect(expired).toBe(0);
    clock.tick(1); // more than 1000 ms
    expect(expired).toBe(1);
    clock.tick(10);
    expect(expired).toBe(1); // once
  });

  it('never expires a settled call, and expires the others on time', () => {
    const clock = manualTicker();
    const deadlines = requestDeadlines(1000, clock.ticker);
    const expired: string[] = [];
    const a = deadlines.watch(() => expired.push('a'));
    clock.tick(2);
    const b = deadlines.watch(() => expired.push('b'));
    deadlines.watch(() => expired.push('c'));
    a.settle();
    a.settle(); // twice is harmless
    clock.tick(3);
    expect(expired).toEqual([]);
    b.settle();
    clock.tick(2); // c started 5 sweeps ago
    expect(expired).toEqual(['c']);
    expect(deadlines.size()).toBe(0);
  });

  it('runs its timer only while calls are watched', () => {
    const clock = manualTicker();
    const deadlines = requestDeadlines(400, clock.ticker);
    expect(clock.running()).toBe(false);
    const call = deadlines.watch(() => undefined);
    deadlines.watch(() => undefined).settle();
    expect(clock.running()).toBe(true);
    expect(clock.periods).toEqual([100]); // one timer for both calls
    call.settle();
    clock.tick();
    expect(clock.running()).toBe(false);
    deadlines.watch(() => undefined);
    expect(clock.periods).toEqual([100, 100]);
  });

  it('an expiry that throws does not keep the other calls from theirs', () => {
    const clock = manualTicker();
    const deadlines = requestDeadlines(1000, clock.ticker);
    let expired = 0;
    deadlines.watch(() => {
      throw new Error('boom');
    });
    deadlines.watch(() => expired++);
    clock.tick(5);
    expect(expired).toBe(1);
  });
});

describe('gRPC server: half-open calls and the sweeping deadline', () => {
  const allow: Decision = {
    outcome: 'allow',
    reason: 'OK_AUTHENTICATED',
    route: 'r',
    headersToSet: [],
    headersToRemove: [],
  };

  it('cancels a call whose message never finishes with DEADLINE_EXCEEDED and counts it; answers a whole one', async () => {
    const clock = manualTicker();
    let timedOut = 0;
    const server = await startGrpcServer({
      address: '127.0.0.1:0',
      decider: () => async () => allow,
      streamTimedOut: () => timedOut++,
      bounds: { ...GRPC_BOUNDS, request_timeout_ms: 1000 },
      deadlineTicker: clock.ticker,
    });
    const session = connect(`http://127.0.0.1:${server.port}`);
    try {
      const call = (body: Buffer, end: boolean) => {
        const stream = session.request({
          [h2.HTTP2_HEADER_METHOD]: 'POST',
          [h2.HTTP2_HEADER_PATH]: `/${AUTHORIZATION_SERVICE}/Check`,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        // grpc-status comes in the trailers, or in the headers of a trailers-only answer.
        const trailers = new Promise<Record<string, unknown>>((resolve) => {
          stream.on('trailers', resolve);
          stream.on('response', (headers) => {
            if (headers['grpc-status'] !== undefined) resolve(headers);
          });
        });
        stream.resume();
        if (end) stream.end(body);
        else stream.write(body);
        return { stream, trailers };
      };
      // An empty CheckRequest, gRPC-framed (5 bytes of prefix), and a frame that promises 100 bytes but stops.
      const whole = call(Buffer.from([0, 0, 0, 0, 0]), true);
      const halfOpen = call(Buffer.from([0, 0, 0, 0, 100, 1, 2]), false);
      expect((await whole.trailers)['grpc-status']).toBe('0');
      // The whole call settled its deadline; the half-open one is still waiting, and nothing has swept yet.
      await new Promise((resolve) => setImmediate(resolve));
      expect(timedOut).toBe(0);
      clock.tick(4);
      expect(timedOut).toBe(0);
      clock.tick(1);
      expect((await halfOpen.trailers)['grpc-status']).toBe(String(4)); // DEADLINE_EXCEEDED
      expect(timedOut).toBe(1);
      halfOpen.stream.close();
    } finally {
      session.close();
      await server.shutdown(1000);
    }
  });
});
