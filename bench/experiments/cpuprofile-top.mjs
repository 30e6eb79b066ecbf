// Summarises a V8 .cpuprofile (from `--cpu-prof`): self time per function and inclusive time per package.
// `node bench/experiments/cpuprofile-top.mjs FILE.cpuprofile [N]`
import * as fs from 'node:fs';

const [file, n = '30'] = process.argv.slice(2);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((x) => [x.id, x]));
const parent = new Map();
for (const x of prof.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const counts = new Map();
for (const s of prof.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
// Percentages of the busy samples: a server profiled through a whole bench run idles while the others are loaded.
const idleIds = new Set(prof.nodes.filter((x) => x.callFrame.functionName === '(idle)').map((x) => x.id));
const total = prof.samples.filter((s) => !idleIds.has(s)).length;
const shortUrl = (u) => u.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/dist\//, 'dist/');
const label = (x) =>
  `${x.callFrame.functionName || '(anonymous)'} ${shortUrl(x.callFrame.url)}:${x.callFrame.lineNumber + 1}`;
const pkg = (x) => {
  const u = x.callFrame.url;
  if (!u) return x.callFrame.functionName.startsWith('(') ? x.callFrame.functionName : '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (m) return m[1];
  if (u.startsWith('node:')) return `node:${u.slice(5).split('/')[0]}`;
  const d = /\/dist\/(libs|apps)\/([^/]+)/.exec(u);
  return d ? `${d[1]}/${d[2]}` : u;
};
const self = new Map();
const incl = new Map();
for (const [id, c] of counts) {
  if (idleIds.has(id)) continue;
  const x = byId.get(id);
  self.set(label(x), (self.get(label(x)) ?? 0) + c);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const p = pkg(byId.get(cur));
    if (seen.has(p)) continue;
    seen.add(p);
    incl.set(p, (incl.get(p) ?? 0) + c);
  }
}
const pct = (c) => `${((100 * c) / total).toFixed(1).padStart(5)}%`;
console.log(`${total} busy of ${prof.samples.length} samples, ${((prof.endTime - prof.startTime) / 1e6).toFixed(1)} s`);
console.log('\nself time, top functions:');
for (const [k, c] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) console.log(`${pct(c)}  ${k}`);
console.log('\ninclusive time by package (a sample counts once per package on its stack):');
for (const [k, c] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) console.log(`${pct(c)}  ${k}`);
