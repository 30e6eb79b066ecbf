#!/usr/bin/env node
'use strict';
// The `zoom-pipeline` command (package.json "bin"). The CLI is TypeScript in apps/cli, compiled by
// `npm run build`; this launcher only finds the compiled entry and says what to do when it is missing.
const fs = require('node:fs');
const path = require('node:path');

const entry = path.join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('zoom-pipeline: run `npm run build` first (or `npm start`, which builds)\n');
  process.exit(1);
}
require(entry).main(process.argv.slice(2));
