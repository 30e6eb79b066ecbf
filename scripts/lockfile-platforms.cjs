#!/usr/bin/env node
// The registry mirror on our build machines serves only the linux-x64 builds of native packages, so
// `npm install` leaves the other platforms' optional packages out of package-lock.json, and `npm ci`
// then refuses the lockfile ("Missing: @swc/core-darwin-arm64@ from lock file"). This adds an entry for
// every missing optional platform package, with the os/cpu that keeps npm from ever fetching it here.
// Run after any `npm install`: node scripts/lockfile-platforms.cjs
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const pkgs = lock.packages;
const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openharmony', 'openbsd', 'sunos', 'aix', 'netbsd'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'wasm32', 'mips64el'];
let added = 0;
for (const [loc, meta] of Object.entries(pkgs)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const base = loc === '' ? '' : `${loc}/`;
    const key = `${base}node_modules/${name}`;
    if (pkgs[key] || pkgs[`node_modules/${name}`]) continue;
    const parts = name.split('/').pop().split('-');
    const os = parts.find((p) => OS.includes(p));
    const cpu = parts.find((p) => CPU.includes(p)) ?? (parts.includes('arm') ? 'arm' : undefined);
    if (!os || !cpu) continue; // not a platform package: leave it to npm
    if (os === 'linux' && cpu === 'x64') continue; // ours: must come from the registry for real
    const tarball = `${name.split('/').pop()}-${version}.tgz`;
    const resolved = `https://registry.npmjs.org/${name}/-/${tarball}`;
    const entry = { version, resolved, cpu: [cpu], optional: true, os: [os] };
    if (meta.dev) entry.dev = true;
    const libc = parts.find((p) => p === 'musl' || p === 'gnu' || p === 'musleabihf' || p === 'gnueabihf');
    if (libc && os === 'linux') entry.libc = [libc.startsWith('musl') ? 'musl' : 'glibc'];
    pkgs[`node_modules/${name}`] = entry;
    added++;
  }
}
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile-platforms: added ${added} optional platform package entr${added === 1 ? 'y' : 'ies'}`);
