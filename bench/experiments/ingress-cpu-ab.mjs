// CPU per delivery of the ingress against bare Fastify in alternating closed-loop rounds (issue #20), optionally
// of two builds of the ingress (A/B): `node bench/experiments/ingress-cpu-ab.mjs [OTHER_ROOT]` after `npm run build`,
// OTHER_ROOT = a copy of another build (its dist/ and a node_modules link). BENCH_ROUNDS (4), BENCH_DURATION_S (8).
// BENCH_APP_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the ingress processes (and bare Fastify).
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const util = await import(path.join(root, 'dist/bench/lib/bench-util.js'));
const { signedPool } = await import(path.join(root, 'dist/bench/ingress.bench.js'));
const { loadEndpoints } = await import(path.join(root, 'dist/test/support/index.js'));

const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const durationS = Number(process.env.BENCH_DURATION_S ?? 8);
const other = process.argv[2];
const secret = `ab-${Date.now()}`;
const pool = signedPool(secret);
const { kafkaBrokers } = loadEndpoints();
const env = { KAFKA_BROKERS: kafkaBrokers, ZOOM_WEBHOOK_SECRET_TOKEN: secret, LOG_LEVEL: 'warn' };
const servers = [{ key: 'fastify', s: await util.spawnServer('fastify-ack', { ZOOM_WEBHOOK_SECRET_TOKEN: secret }) }];
servers.push({ key: 'ingress', s: await util.startDistApp('ingress', env) });
if (other)
  servers.push({
    key: 'other',
    s: await util.startDistApp('ingress', env, 60_000, { root: other, node: process.execPath }),
  });
const res = Object.fromEntries(servers.map((x) => [x.key, []]));
try {
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < servers.length; i++) {
      const { key, s } = servers[(i + r) % servers.length];
      const c = await util.load(s.url, pool, { connections: 50, durationS, warmupS: 2, serverPid: s.child.pid });
      const us = (c.serverCpuS * 1e6) / c.ok;
      res[key].push({ us, rps: c.rps, p99: c.p99, bad: c.non2xx + c.errors });
      console.log(
        `round ${r + 1} ${key.padEnd(8)} ${us.toFixed(1)} µs/delivery ${c.rps.toFixed(0)}/s ` +
          `p99 ${c.p99} ms bad ${c.non2xx + c.errors}`,
      );
    }
    const f = res.fastify[r].us;
    console.log(
      `  ratios vs fastify: ${servers
        .slice(1)
        .map((x) => `${x.key} ${(res[x.key][r].us / f).toFixed(2)}x`)
        .join(' ')}`,
    );
  }
} finally {
  for (const x of servers) await x.s.kill();
}
const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const x of servers) {
  const ratios = res[x.key].map((v, i) => v.us / res.fastify[i].us);
  console.log(
    `${x.key.padEnd(8)} median ${med(res[x.key].map((v) => v.us)).toFixed(1)} µs, ` +
      `${med(res[x.key].map((v) => v.rps)).toFixed(0)}/s, vs fastify ${med(ratios).toFixed(2)}x ` +
      `(${ratios.map((v) => v.toFixed(2)).join(', ')})`,
  );
}
