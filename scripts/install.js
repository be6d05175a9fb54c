#!/usr/bin/env node
// npm install hook: use a prebuilt CPU addon or build it (node-gyp-build), then try the CUDA addon
// where nvcc exists. Neither failure fails the install: the package then runs on its pure-TS
// backend, and backends() says why the native one is missing. CI checks that the addon loads.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const gypBuild = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], { cwd: root, stdio: 'inherit' });
if (gypBuild.status !== 0) {
  console.warn(
    '[mixed-reward] the native CPU addon could not be built (a C++17 compiler, make and python3 are needed);\n' +
      "[mixed-reward] the package works on its pure-TS backend. Run 'npm run build:native' to retry.",
  );
}
spawnSync(process.execPath, [path.join(__dirname, 'build-cuda.js'), '--optional'], { cwd: root, stdio: 'inherit' });
