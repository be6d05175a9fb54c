#!/usr/bin/env node
// Builds the CUDA addon (build-cuda/Release/mixed_reward_cuda.node) with cmake-js when nvcc is
// found on PATH or in /usr/local/cuda/bin (or $CUDA_HOME/bin).
//   node scripts/build-cuda.js             a failure (or no nvcc / cmake) exits non-zero
//   node scripts/build-cuda.js --optional  never fails: prints why it skipped or failed (npm install)
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const optional = process.argv.includes('--optional');
const root = path.resolve(__dirname, '..');

function done(ok, msg) {
  if (ok) {
    console.log(`[mixed-reward] ${msg}`);
    process.exit(0);
  }
  if (optional) {
    console.log(`[mixed-reward] CUDA addon skipped: ${msg} (the CPU and TypeScript backends still work)`);
    process.exit(0);
  }
  console.error(`[mixed-reward] CUDA addon build failed: ${msg}`);
  process.exit(1);
}

function onPath(cmd, dirs) {
  for (const dir of dirs) {
    if (!dir) continue;
    const full = path.join(dir, cmd);
    try {
      fs.accessSync(full, fs.constants.X_OK);
      return full;
    } catch {
      /* next */
    }
  }
  return null;
}

if (process.env.MIXED_REWARD_SKIP_CUDA_BUILD === '1') done(false, 'MIXED_REWARD_SKIP_CUDA_BUILD=1');

const pathDirs = (process.env.PATH || '').split(path.delimiter);
const cudaDirs = [process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, 'bin'), process.env.CUDA_PATH && path.join(process.env.CUDA_PATH, 'bin'), '/usr/local/cuda/bin'];
const nvcc = onPath('nvcc', pathDirs) || onPath('nvcc', cudaDirs);
if (!nvcc) done(false, 'nvcc not found on PATH or in /usr/local/cuda/bin');
if (!onPath('cmake', pathDirs)) done(false, 'cmake not found on PATH');

let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
} catch {
  done(false, 'cmake-js is not installed (it is a devDependency: npm install --include=dev)');
}

const env = { ...process.env, CUDACXX: nvcc, PATH: [path.dirname(nvcc), ...pathDirs].join(path.delimiter) };
const args = [cmakeJs, 'compile', '--out', 'build-cuda', '--config', 'Release'];
if (process.env.MIXED_REWARD_CUDA_ARCHS) args.push(`--CDCMAKE_CUDA_ARCHITECTURES=${process.env.MIXED_REWARD_CUDA_ARCHS}`);
console.log(`[mixed-reward] building the CUDA addon with ${nvcc}`);
const r = spawnSync(process.execPath, args, { cwd: root, env, stdio: optional ? 'pipe' : 'inherit', encoding: 'utf8' });
if (r.error) done(false, `could not run cmake-js: ${r.error.message}`);
if (r.status !== 0) {
  if (optional) {
    const tail = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n').slice(-15).join('\n');
    console.log(tail);
  }
  done(false, `cmake-js exited with status ${r.status}`);
}
const out = path.join(root, 'build-cuda', 'Release', 'mixed_reward_cuda.node');
if (!fs.existsSync(out)) done(false, `build finished but ${path.relative(root, out)} is missing`);
done(true, `CUDA addon built: ${path.relative(root, out)}`);
