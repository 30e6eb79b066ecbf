// The targets of issue #20, each judged from the figures of one `npm run bench` (same run, same machine).
import { type DedupResults } from './dedup.bench';
import { type E2eResults } from './e2e-latency.bench';
import { type IngressResults, ingressTargets, median } from './ingress.bench';
import { fmt } from './lib/bench-util';
import { percentile } from './lib/paced-load';

export interface BenchResults {
  ingress?: IngressResults;
  dedupBacklog?: DedupResults;
  dedupFresh?: DedupResults;
  e2e?: E2eResults;
}

const verdict = (met: boolean | undefined): string =>
  met === undefined ? 'not measured' : met ? '**met**' : '**not met**';

const ratioCell = (ratios: number[]): string =>
  ratios.length ? `${fmt(median(ratios), 2)}x (rounds: ${ratios.map((x) => fmt(x, 2)).join(', ')})` : 'n/a';

export function targetsMarkdown(r: BenchResults): string {
  const rows: string[] = [];
  if (r.ingress) {
    for (const t of ingressTargets(r.ingress)) {
      rows.push(
        `| ${t.line} | ${t.target} | ${ratioCell(t.ratios)} | ${verdict(t.met)}` +
          `${t.mixed ? ' on the median; rounds on both sides: inconclusive' : ''} |`,
      );
    }
  }
  const dedupRows = (name: string, d: DedupResults | undefined) => {
    if (!d) return;
    const cpu = d.dedup.cpuS / d.dedup.measured / (d.passThrough.cpuS / d.passThrough.measured);
    const rate = d.dedup.rate / d.passThrough.rate;
    rows.push(
      `| dedup CPU per delivery vs the pass-through consumer, ${name} | ≤ 1.3x | ${fmt(cpu, 2)}x ` +
        `(${fmt((d.dedup.cpuS * 1e6) / d.dedup.measured)} vs ` +
        `${fmt((d.passThrough.cpuS * 1e6) / d.passThrough.measured)} µs) | ` +
        `${verdict(Number.isFinite(cpu) ? cpu <= 1.3 : undefined)} |`,
    );
    rows.push(
      `| dedup throughput vs the pass-through consumer, ${name} | ≥ 80% | ${fmt(100 * rate)}% (${fmt(d.dedup.rate)} ` +
        `vs ${fmt(d.passThrough.rate)}/s) | ${verdict(Number.isFinite(rate) ? rate >= 0.8 : undefined)} |`,
    );
  };
  dedupRows(
    `fresh messages (${fmt(r.dedupFresh?.n ?? 0)}, backlog ${fmt(r.dedupFresh?.backlogBefore ?? 0)})`,
    r.dedupFresh,
  );
  dedupRows(
    `with the ingress bench's backlog ` +
      `(${fmt((r.dedupBacklog?.backlogBefore ?? 0) + (r.dedupBacklog?.n ?? 0))} messages)`,
    r.dedupBacklog,
  );
  const at500 = r.e2e?.events.find((x) => x.rate === 500);
  if (at500) {
    const p50 = percentile(at500.latenciesMs, 0.5);
    const p99 = percentile(at500.latenciesMs, 0.99);
    rows.push(
      `| end-to-end 200 → canonical event, p50 at 500/s | < 50 ms | ${fmt(p50, 1)} ms ` +
        `(${fmt(at500.missing)} missing) | ${verdict(p50 < 50 && at500.missing === 0)} |`,
    );
    rows.push(
      `| end-to-end 200 → canonical event, p99 at 500/s | < 250 ms | ${fmt(p99, 1)} ` +
        `ms | ${verdict(p99 < 250 && at500.missing === 0)} |`,
    );
  }
  return [
    'Each line from the tables above (same run). Ratios of the ingress are medians of same-round ratios. On a ' +
      'machine shared with other work the wall-clock figures (throughput, latency) move far more than CPU ' +
      'per delivery: compare the load average in "Machine" before trusting a verdict.',
    '',
    '| target | wanted | this run | verdict |',
    '|---|---|---:|---|',
    ...rows,
  ].join('\n');
}
