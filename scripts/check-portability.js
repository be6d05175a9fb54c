// Run by scripts/check-portability.sh under `qemu-x86_64 -cpu MODEL`: the CPU addon must load on
// that CPU, pick a kernel it supports (no SIGILL), and agree with the TS backend.
'use strict';
const path = require('node:path');
const m = require(path.join(__dirname, '..', 'dist', 'lib', 'index.js'));

const want = process.argv[2];
const cpu = m.backends().cpu;
if (!cpu.available) throw new Error(`cpu backend unavailable: ${cpu.reason}`);
if (want && cpu.kernel !== want) throw new Error(`expected the ${want} kernel, got ${cpu.kernel}`);
const V = 100, d = 37;
const table = m.EmbeddingTable.fromArray(Float32Array.from({ length: V * d }, (_, i) => Math.sin(i)), V, d);
const pairs = Array.from({ length: 20 }, (_, i) => ({
  response: Array.from({ length: 30 }, (_, k) => (i * 7 + k * 3) % V),
  reference: Array.from({ length: 11 }, (_, k) => (i + k * 5) % V),
}));
const native = m.bmasBatchSync(table, pairs, { backend: 'cpu' });
const ts = m.bmasBatchSync(table, pairs, { backend: 'js' });
let diff = 0;
for (let i = 0; i < native.length; i++) diff = Math.max(diff, Math.abs(native[i] - ts[i]));
if (!(diff < 1e-5)) throw new Error(`cpu and js BMAS differ by ${diff}`);
const boxes = Float32Array.from({ length: 4000 }, (_, i) => (i % 4 < 2 ? i % 50 : 50 + (i % 37)));
const other = boxes.slice().reverse();
const a = m.boxIoU(boxes, other, { backend: 'cpu' });
const b = m.boxIoU(boxes, other, { backend: 'js' });
for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 1e-6) throw new Error(`IoU differs at ${i}`);
console.log(`kernel ${cpu.kernel}: BMAS and IoU agree with the TS backend (max BMAS diff ${diff.toExponential(1)})`);
