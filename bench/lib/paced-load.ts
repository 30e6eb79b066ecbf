// Open-loop load at a fixed rate: what "p99 at 2,000 deliveries/s" means for a webhook endpoint, whose callers
// (Zoom) do not wait for one answer before sending the next delivery.
//
// autocannon's `overallRate` is not that: each connection gets a quota per second (rate / connections) that a
// 1 s interval resets, and spends it back to back as fast as answers come (httpClient.js `reqsMadeThisSecond`).
// At 2,000/s over 50 connections, every second starts with 50 connections in a closed loop at full speed until
// each has sent its 40 requests, then nothing: a saturating burst, whose p99 is the saturated p99 (in our runs
// the bare Fastify baseline, which does no I/O, showed a p99 of 20-24 ms "at 2,000/s" that way).
//
// Here request i is due at t0 + i / rate; a 1 ms timer sends every request that is due (2 per tick at 2,000/s)
// on a keep-alive agent with `connections` sockets, and its latency runs from the time it was due, not from when
// a socket was free: a server that falls behind is charged for the queue it causes (no coordinated omission).
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { type BenchRequest, type LoadResult, processCpuSeconds } from './bench-util';

export interface PacedLoadOptions {
  rate: number;
  durationS: number;
  warmupS: number;
  connections: number;
  /** Pids whose CPU time over the measured phase is reported (serverCpuS / brokerCpuS), as in `load`. */
  serverPid?: number;
  brokerPid?: number;
  /** A request not answered within this is counted as a timeout. */
  timeoutMs?: number;
}

interface PhaseResult {
  latenciesMs: number[];
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  elapsedS: number;
}

export async function pacedLoad(url: string, pool: BenchRequest[], opts: PacedLoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections, maxFreeSockets: opts.connections });
  try {
    if (opts.warmupS > 0) await phase(url, pool, agent, opts.rate, opts.warmupS, opts.timeoutMs ?? 10_000);
    const serverBefore = processCpuSeconds(opts.serverPid);
    const brokerBefore = processCpuSeconds(opts.brokerPid);
    const generatorBefore = process.cpuUsage();
    const r = await phase(url, pool, agent, opts.rate, opts.durationS, opts.timeoutMs ?? 10_000);
    const generator = process.cpuUsage(generatorBefore);
    const sorted = r.latenciesMs.sort((a, b) => a - b);
    return {
      serverCpuS: processCpuSeconds(opts.serverPid) - serverBefore,
      brokerCpuS: processCpuSeconds(opts.brokerPid) - brokerBefore,
      generatorCpuS: (generator.user + generator.system) / 1e6,
      durationS: r.elapsedS,
      rps: r.ok / r.elapsedS,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      ok: r.ok,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
    };
  } finally {
    agent.destroy();
  }
}

export interface PacedRounds {
  /** The round with the median p99 (its rate, p50 and counts). */
  median: LoadResult;
  /** Every round's p99, in run order. */
  p99s: number[];
}

/**
 * `rounds` paced runs in a row (one warm-up before the first): a single p99 on this shared 2-core machine moves
 * by ±40% from run to run, so the table shows the median round and the range.
 */
export async function pacedRounds(
  url: string,
  pool: BenchRequest[],
  opts: PacedLoadOptions,
  rounds: number,
): Promise<PacedRounds> {
  const results: LoadResult[] = [];
  for (let i = 0; i < rounds; i++)
    results.push(await pacedLoad(url, pool, { ...opts, warmupS: i === 0 ? opts.warmupS : 0 }));
  const byP99 = [...results].sort((a, b) => a.p99 - b.p99);
  return { median: byP99[Math.floor((byP99.length - 1) / 2)], p99s: results.map((r) => r.p99) };
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function phase(
  url: string,
  pool: BenchRequest[],
  agent: http.Agent,
  rate: number,
  durationS: number,
  timeoutMs: number,
): Promise<PhaseResult> {
  const target = new URL(url);
  const total = Math.round(rate * durationS);
  const result: PhaseResult = { latenciesMs: [], ok: 0, non2xx: 0, errors: 0, timeouts: 0, elapsedS: durationS };
  return new Promise((resolve) => {
    const bodies = pool.map((r) => Buffer.from(r.body));
    let sent = 0;
    let done = 0;
    const t0 = performance.now();
    const finish = (): void => {
      done += 1;
      if (done === total) {
        result.elapsedS = Math.max(durationS, (performance.now() - t0) / 1000);
        resolve(result);
      }
    };
    const fire = (index: number): void => {
      const due = t0 + (index * 1000) / rate;
      const r = pool[index % pool.length];
      let settled = false;
      const settle = (kind: 'ok' | 'non2xx' | 'error' | 'timeout'): void => {
        if (settled) return;
        settled = true;
        if (kind === 'ok') {
          result.ok += 1;
          result.latenciesMs.push(performance.now() - due);
        } else if (kind === 'non2xx') result.non2xx += 1;
        else if (kind === 'error') result.errors += 1;
        else result.timeouts += 1;
        finish();
      };
      const body = bodies[index % bodies.length];
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: r.path,
          headers: { ...r.headers, 'content-length': String(body.length) },
        },
        (res) => {
          res.resume();
          res.once('end', () =>
            settle(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300 ? 'ok' : 'non2xx'),
          );
          res.once('error', () => settle('error'));
        },
      );
      req.setTimeout(timeoutMs, () => {
        settle('timeout');
        req.destroy();
      });
      req.once('error', () => settle('error'));
      req.end(body);
    };
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (sent < due) fire(sent++);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}
