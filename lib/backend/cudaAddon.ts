/**
 * Loads the CUDA addon (`build-cuda/Release/mixed_reward_cuda.node`, built by cmake-js) and reports
 * it available only when a usable device is found.
 *
 * A GPU build can fail in ways that take the process down (a driver that aborts, a hang in context
 * creation), so the addon is first loaded in a child process that calls `probe()`, under a timeout.
 * Only when the child reports a device is it loaded here. The outcome is cached; nothing in this
 * module throws or blocks past the probe's timeout.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorClasses } from '../errors.js';
import type { CudaAddon } from './addonTypes.js';
import type { LoadResult } from './cpuAddon.js';
import { packageRoot } from './packageRoot.js';

/** Where `npm run build:cuda` puts the addon. */
export const cudaAddonPath: string = path.join(packageRoot, 'build-cuda', 'Release', 'mixed_reward_cuda.node');

/** Context creation on a big GPU can take a few seconds; a hung driver must not hang us. */
const DEFAULT_PROBE_TIMEOUT_MS = 20_000;

interface ProbeReport {
  ok: boolean;
  reason?: string;
  device?: string;
}

let cached: LoadResult<CudaAddon> | undefined;

function probeTimeoutMs(): number {
  const v = Number(process.env.MIXED_REWARD_CUDA_PROBE_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_PROBE_TIMEOUT_MS;
}

/** Runs `require(addon).probe()` in a child Node process and parses its one-line JSON answer. */
function probeInChild(file: string): ProbeReport {
  const script =
    'let r;try{r=require(process.argv[1]).probe();}catch(e){r={ok:false,reason:"loading failed: "+String(e&&e.message||e).split("\\n")[0]};}' +
    'process.stdout.write("\\n@@probe "+JSON.stringify(r)+"\\n");';
  const child = spawnSync(process.execPath, ['-e', script, file], {
    encoding: 'utf8',
    timeout: probeTimeoutMs(),
    killSignal: 'SIGKILL',
    windowsHide: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  if (child.error) {
    const timedOut = (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    return { ok: false, reason: timedOut ? `CUDA probe timed out after ${probeTimeoutMs()} ms` : `CUDA probe could not run: ${child.error.message}` };
  }
  const line = (child.stdout ?? '').split('\n').find((l) => l.startsWith('@@probe '));
  if (!line) {
    const how = child.signal ? `was killed by ${child.signal}` : `exited with status ${String(child.status)}`;
    const err = (child.stderr ?? '').trim().split('\n').slice(-1)[0];
    return { ok: false, reason: `CUDA probe process ${how}${err ? ` (${err})` : ''}` };
  }
  try {
    const r = JSON.parse(line.slice('@@probe '.length)) as ProbeReport;
    return { ok: r.ok === true, reason: r.reason, device: r.device };
  } catch {
    return { ok: false, reason: 'CUDA probe gave an unreadable answer' };
  }
}

function load(): LoadResult<CudaAddon> {
  if (process.env.MIXED_REWARD_DISABLE_CUDA === '1') return { reason: 'disabled by MIXED_REWARD_DISABLE_CUDA=1' };
  if (!fs.existsSync(cudaAddonPath)) return { reason: "CUDA addon not built (run 'npm run build:cuda' where nvcc is installed)" };
  const report = probeInChild(cudaAddonPath);
  if (!report.ok) return { reason: report.reason ?? 'no device' };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(cudaAddonPath) as CudaAddon;
    addon.init(errorClasses);
    const again = addon.probe();
    if (!again.ok) return { reason: again.reason ?? 'no device' };
    return { addon };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { reason: `CUDA addon failed to load: ${msg}` };
  }
}

export function loadCudaAddon(): LoadResult<CudaAddon> {
  if (!cached) cached = load();
  return cached;
}
