/** The package surface: CommonJS and ESM entry points, backends(), error classes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as api from '../lib/index.js';

const root = path.resolve(__dirname, '..', '..');
const exported = ['extractAnswer', 'formatReward', 'matchingReward', 'chartReward', 'parseBoxes', 'iouReward', 'boxIoU',
  'boxIoUMatrix', 'bmas', 'bmasBatch', 'bmasBatchSync', 'openEndedReward', 'mixedReward', 'backends', 'EmbeddingTable',
  'MixedRewardError', 'TokenRangeError', 'SampleError', 'BackendUnavailableError', 'BoxError', 'InvalidArgumentError'];

test('require() and import of the package name expose the whole API', () => {
  for (const name of exported) assert.type((api as Record<string, unknown>)[name], 'function', name);
  const cjs = spawnSync(process.execPath, ['-e', `const m = require('mixed-reward'); console.log(${JSON.stringify(exported)}.filter(n => typeof m[n] !== 'function').join(',') || 'ok')`], { cwd: root, encoding: 'utf8' });
  assert.is(cjs.stdout.trim(), 'ok', cjs.stderr);
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e', `import * as m from 'mixed-reward'; import { mixedReward, EmbeddingTable } from 'mixed-reward'; console.log(typeof mixedReward === 'function' && typeof EmbeddingTable === 'function' && ${JSON.stringify(exported)}.every(n => typeof m[n] === 'function') ? 'ok' : 'missing')`], { cwd: root, encoding: 'utf8' });
  assert.is(esm.stdout.trim(), 'ok', esm.stderr);
});

test('backends() reports each backend with a reason when unavailable', () => {
  const b = api.backends();
  assert.is(b.js.available, true);
  for (const k of ['cpu', 'cuda'] as const) {
    assert.type(b[k].available, 'boolean');
    if (!b[k].available) assert.ok(typeof b[k].reason === 'string' && b[k].reason!.length > 0, k);
  }
});

test('error classes carry stable codes and match both instanceof checks', () => {
  const cases: [Error & { code: string }, string, ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor][] = [
    [new api.TokenRangeError('x'), 'ERR_TOKEN_RANGE', RangeError],
    [new api.BoxError('x'), 'ERR_BAD_BOXES', RangeError],
    [new api.InvalidArgumentError('x'), 'ERR_INVALID_ARG', TypeError],
    [new api.ValueRangeError('x'), 'ERR_OUT_OF_RANGE', RangeError],
    [new api.SampleError('x', 3), 'ERR_BAD_SAMPLE', Error],
    [new api.BackendUnavailableError('cuda', 'no device'), 'ERR_BACKEND_UNAVAILABLE', Error],
    [new api.ModelLoadError('x'), 'ERR_MODEL_LOAD', Error],
  ];
  for (const [err, code, base] of cases) {
    assert.is(err.code, code);
    assert.instance(err, base);
    assert.instance(err, api.MixedRewardError);
    assert.ok(err.name.length > 0 && err.name !== 'Error', err.name);
  }
  assert.not.instance(new RangeError('plain'), api.MixedRewardError);
});

test.run();
