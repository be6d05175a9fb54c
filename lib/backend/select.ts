/**
 * The one place where a backend is chosen. `'auto'` prefers CUDA, then the native CPU addon,
 * then pure TS, silently; an explicit backend that is not available throws
 * `BackendUnavailableError` with the reason.
 */
import { BackendUnavailableError, InvalidArgumentError } from '../errors.js';
import type { BackendName, ConcreteBackend } from '../types.js';
import type { CudaAddon, NativeAddon } from './addonTypes.js';
import { loadCpuAddon } from './cpuAddon.js';
import { loadCudaAddon } from './cudaAddon.js';

export interface BackendStatus {
  available: boolean;
  /** Why not, when not available. */
  reason?: string;
  /** Kernel flavour (`avx512`, `avx2`, `scalar`, a GPU name, `typescript`). */
  kernel?: string;
  threads?: number;
  device?: string;
  [key: string]: unknown;
}

export interface BackendsReport {
  js: BackendStatus;
  cpu: BackendStatus;
  cuda: BackendStatus;
}

/** What each backend offers on this machine, and why not where it is unavailable. */
export function backends(): BackendsReport {
  const cpu = loadCpuAddon();
  const cuda = loadCudaAddon();
  return {
    js: { available: true, kernel: 'typescript' },
    cpu: cpu.addon ? { available: true, ...cpu.addon.info() } : { available: false, reason: cpu.reason },
    cuda: cuda.addon ? { available: true, ...cuda.addon.info() } : { available: false, reason: cuda.reason },
  };
}

const VALID: readonly string[] = ['auto', 'js', 'cpu', 'cuda'];

/** Resolves an option value to a concrete backend, throwing for unavailable explicit ones. */
export function resolveBackend(requested: BackendName | undefined): ConcreteBackend {
  const want = requested ?? 'auto';
  if (!VALID.includes(want)) {
    throw new InvalidArgumentError(`options.backend must be one of 'auto', 'js', 'cpu', 'cuda' (got ${JSON.stringify(want)})`);
  }
  if (want === 'js') return 'js';
  if (want === 'cpu') {
    const r = loadCpuAddon();
    if (!r.addon) throw new BackendUnavailableError('cpu', r.reason ?? 'unknown');
    return 'cpu';
  }
  if (want === 'cuda') {
    const r = loadCudaAddon();
    if (!r.addon) throw new BackendUnavailableError('cuda', r.reason ?? 'unknown');
    return 'cuda';
  }
  if (process.env.MIXED_REWARD_BACKEND && VALID.includes(process.env.MIXED_REWARD_BACKEND) && process.env.MIXED_REWARD_BACKEND !== 'auto') {
    return resolveBackend(process.env.MIXED_REWARD_BACKEND as BackendName);
  }
  if (loadCudaAddon().addon) return 'cuda';
  if (loadCpuAddon().addon) return 'cpu';
  return 'js';
}

/** The addon object of a concrete native backend (after `resolveBackend`). */
export function addonFor(backend: 'cpu'): NativeAddon;
export function addonFor(backend: 'cuda'): CudaAddon;
export function addonFor(backend: 'cpu' | 'cuda'): NativeAddon | CudaAddon {
  const r = backend === 'cpu' ? loadCpuAddon() : loadCudaAddon();
  if (!r.addon) throw new BackendUnavailableError(backend, r.reason ?? 'unknown');
  return r.addon;
}
