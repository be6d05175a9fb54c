/**
 * Loads the native CPU addon (`mixed_reward.node`) through node-gyp-build, which prefers a local
 * `build/` over `prebuilds/`. Loading is attempted once; a failure is remembered as a reason
 * string for `backends()`, never thrown at import time.
 */
import { errorClasses } from '../errors.js';
import type { NativeAddon } from './addonTypes.js';
import { packageRoot } from './packageRoot.js';

export interface LoadResult<T> {
  addon?: T;
  reason?: string;
}

let cached: LoadResult<NativeAddon> | undefined;

export function loadCpuAddon(): LoadResult<NativeAddon> {
  if (cached) return cached;
  if (process.env.MIXED_REWARD_DISABLE_NATIVE === '1') {
    cached = { reason: 'disabled by MIXED_REWARD_DISABLE_NATIVE=1' };
    return cached;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
    const addon = nodeGypBuild(packageRoot);
    addon.init(errorClasses);
    cached = { addon };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    cached = {
      reason: `native CPU addon not built or not loadable (${msg}); run 'npm run build:native' (needs a C++ compiler and python3)`,
    };
  }
  return cached;
}
