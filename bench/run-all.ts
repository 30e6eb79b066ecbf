// Runs every benchmark in sequence and rewrites the tables of BENCHMARKS.md between their markers.
// `bash scripts/infra.sh up && npm run build && npm run bench`
import { dedupMarkdown, runDedup } from './dedup.bench';
import { ingressMarkdown, runIngress } from './ingress.bench';
import { machine, writeSection } from './lib/bench-util';
import { rtmsMarkdown, runRtms } from './rtms.bench';
import { runUpload, uploadMarkdown } from './upload.bench';

async function main(): Promise<void> {
  const m = machine();
  writeSection(
    'machine',
    [
      `Run ${new Date().toISOString()}; reproduce with \`bash scripts/infra.sh up && npm run build && npm run bench\` (one benchmark: \`node dist/bench/ingress.bench.js\`, \`node dist/bench/dedup.bench.js\`, \`node dist/bench/upload.bench.js\`).`,
      '',
      '| nproc | CPU | RAM | node | load average at start (1/5/15 min) |',
      '|---:|---|---|---|---|',
      `| ${m.nproc} | ${m.cpu} | ${m.ram} | ${m.node} | ${m.loadavg} |`,
    ].join('\n'),
  );
  // Ingress first: the dedup run then also drains what the ingress appended to zoom.webhooks.raw, so no backlog is
  // left behind for the next dedup started on the shared services.
  const ingress = await runIngress();
  writeSection('ingress', ingressMarkdown(ingress));
  const dedup = await runDedup();
  writeSection('dedup', dedupMarkdown(dedup));
  const upload = await runUpload();
  writeSection('upload', uploadMarkdown(upload));
  const rtms = await runRtms();
  writeSection('rtms', rtmsMarkdown(rtms));
  process.stdout.write(`${ingressMarkdown(ingress)}\n\n${dedupMarkdown(dedup)}\n\n${uploadMarkdown(upload)}\n\n${rtmsMarkdown(rtms)}\n`);
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
