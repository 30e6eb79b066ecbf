// Runs every benchmark in sequence and rewrites the tables of BENCHMARKS.md between their markers.
// `bash scripts/infra.sh up && npm run build && npm run bench`
import { runCompares } from './compare.bench';
import { dedupMarkdown, runDedup } from './dedup.bench';
import { e2eMarkdown, runE2eLatency } from './e2e-latency.bench';
import { ingressMarkdown, runIngress } from './ingress.bench';
import { machine, writeSection } from './lib/bench-util';
import { rtmsMarkdown, runRtms } from './rtms.bench';
import { targetsMarkdown } from './targets';
import { runUpload, uploadMarkdown } from './upload.bench';

// BENCH_ONLY=ingress,dedup,e2e,upload,rtms runs a subset (default: all; `none` for only BENCH_BASE_REF's comparison).
const ONLY = new Set((process.env.BENCH_ONLY ?? 'ingress,dedup,e2e,upload,rtms').split(',').map((x) => x.trim()));

async function main(): Promise<void> {
  const m = machine();
  writeSection(
    'machine',
    [
      `Run ${new Date().toISOString()}; reproduce with \`bash scripts/infra.sh up && npm run build && npm run ` +
        `bench\` (one benchmark: \`node dist/bench/ingress.bench.js\`, \`node dist/bench/dedup.bench.js\`, ` +
        `\`node dist/bench/e2e-latency.bench.js\`, \`node dist/bench/upload.bench.js\`).`,
      '',
      '| nproc | CPU | RAM | node | load average at start (1/5/15 min) |',
      '|---:|---|---|---|---|',
      `| ${m.nproc} | ${m.cpu} | ${m.ram} | ${m.node} | ${m.loadavg} |`,
    ].join('\n'),
  );
  // Ingress first: the first dedup run then also drains what the ingress appended to zoom.webhooks.raw (the
  // backlog case); the second one sees fresh messages only; nothing is left behind for the next dedup started on
  // the shared services.
  const out: string[] = [];
  const ingress = ONLY.has('ingress') ? await runIngress() : undefined;
  if (ingress) {
    writeSection('ingress', ingressMarkdown(ingress));
    out.push(ingressMarkdown(ingress));
  }
  const dedupBacklog = ONLY.has('dedup') ? await runDedup() : undefined;
  const dedupFresh = ONLY.has('dedup') ? await runDedup() : undefined;
  if (dedupBacklog && dedupFresh) {
    writeSection('dedup', dedupMarkdown(dedupBacklog));
    writeSection('dedup-fresh', dedupMarkdown(dedupFresh));
    out.push(dedupMarkdown(dedupBacklog), dedupMarkdown(dedupFresh));
  }
  const e2e = ONLY.has('e2e') ? await runE2eLatency() : undefined;
  if (e2e) {
    writeSection('e2e', e2eMarkdown(e2e));
    out.push(e2eMarkdown(e2e));
  }
  // A subset run without these leaves the last full run's verdicts in place.
  if (ingress || dedupBacklog || e2e)
    writeSection('issue20-targets', targetsMarkdown({ ingress, dedupBacklog, dedupFresh, e2e }));
  if (ONLY.has('upload')) {
    const upload = await runUpload();
    writeSection('upload', uploadMarkdown(upload));
    out.push(uploadMarkdown(upload));
  }
  // BENCH_BASE_REF=<git ref>: that commit's ingress, dedup and uploader against the current ones, alternating rounds.
  if (process.env.BENCH_BASE_REF) {
    const compare = await runCompares(process.env.BENCH_BASE_REF);
    writeSection('compare', compare);
    out.push(compare);
  }
  if (ONLY.has('rtms')) {
    const rtms = await runRtms();
    writeSection('rtms', rtmsMarkdown(rtms));
    out.push(rtmsMarkdown(rtms));
  }
  process.stdout.write(`${out.join('\n\n')}\n`);
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
