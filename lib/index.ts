/**
 * mixed-reward: the Mixed-Reward of Mixed-R1 (arXiv 2505.24164) for GRPO training of multimodal
 * LLMs. See SPEC-level docs in README.md.
 */
export { extractAnswer } from './text/extractAnswer.js';
export { formatReward } from './rewards/format.js';
export { matchingReward } from './rewards/matching.js';
export { chartReward } from './rewards/chart.js';
export { parseBoxes } from './boxes/parseBoxes.js';
export { iouReward } from './rewards/iou.js';
export { boxIoU, boxIoUMatrix, boxIoUAsync, boxIoUMatrixAsync } from './kernels/iou.js';
export { bmas, bmasBatch, bmasBatchSync } from './kernels/bmas.js';
export type { BmasOptions, BmasPair, BmasDetail, BmasBatchDetail } from './kernels/bmas.js';
export { EmbeddingTable } from './embeddings/table.js';
export type { TextTokenizer, TableOptions } from './embeddings/table.js';
export { openEndedReward } from './rewards/openEnded.js';
export type { OpenEndedOptions } from './rewards/openEnded.js';
export { mixedReward } from './rewards/mixed.js';
export type { Sample, Result, MixedRewardOptions } from './rewards/mixed.js';
export { backends } from './backend/select.js';
export type { BackendStatus, BackendsReport } from './backend/select.js';
export {
  MixedRewardError,
  InvalidArgumentError,
  ValueRangeError,
  TokenRangeError,
  BoxError,
  SampleError,
  BackendUnavailableError,
  ModelLoadError,
  NativeError,
  DisposedError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export type { Box, BackendName, BackendOptions, BoxesInput, TokenIds, Task } from './types.js';
