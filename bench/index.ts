/**
 * `npm run bench` / `mixed-reward bench`: runs each benchmark in its own process (so one's memory
 * and JIT state do not colour the next), in order. Never part of the tests.
 * Pick some with `BENCH=bmas,iou npm run bench`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SUITES: [name: string, file: string, what: string][] = [
  ['bmas', 'bmas.js', 'BMAS GRPO batch: native CPU vs numpy vs pure TS'],
  ['iou', 'iou.js', 'box IoU: native vs numpy vs memory floor'],
  ['bmas-js', 'bmas-js.js', 'BMAS pure TS vs plain JS triple loop'],
  ['server', 'server.js', '/score requests per second under load'],
];

const wanted = process.env.BENCH ? new Set(process.env.BENCH.split(',')) : undefined;
let failed = 0;
for (const [name, file, what] of SUITES) {
  if (wanted && !wanted.has(name)) continue;
  const script = path.join(__dirname, file);
  if (!fs.existsSync(script)) {
    console.log(`\n## ${name}: skipped (${file} not built)`);
    continue;
  }
  console.log(`\n## ${name}: ${what}`);
  const r = spawnSync(process.execPath, ['--expose-gc', script], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`(${name} exited with ${r.status ?? r.signal})`);
  }
}
process.exitCode = failed ? 1 : 0;
