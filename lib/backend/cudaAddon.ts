/**
 * Loads the CUDA addon (`build-cuda/Release/mixed_reward_cuda.node`, built by cmake-js) only when
 * it exists, and reports it available only when a device is found. Placeholder until the CUDA
 * backend lands: always unavailable with a reason.
 */
import type { CudaAddon } from './addonTypes.js';
import type { LoadResult } from './cpuAddon.js';

let cached: LoadResult<CudaAddon> | undefined;

export function loadCudaAddon(): LoadResult<CudaAddon> {
  if (cached) return cached;
  cached = { reason: 'CUDA addon not built' };
  return cached;
}
