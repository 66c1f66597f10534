// The generated evaluation report of bench/insights (run.ts: breakdowns; load.ts: loading it into a viewer): a
// Visual-Genome-like 1 M-query report in exactly the layout `amc eval --out` writes, and the same rows as samples.
import { createWriteStream } from 'node:fs';
import { reportFloat } from '../../src/cli/report';
import { isHit } from '../../src/core/math/pointing';
import type { EvalReport, EvalRow } from '../../src/model/evaluate';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COLOURS = ['red', 'blue', 'green', 'yellow', 'white', 'black', 'brown', 'grey', 'orange', 'purple', 'pink'];
const SIZES = ['small', 'large', 'tall', 'little', 'big', 'long', 'short', 'old', 'young', 'wooden'];
const NOUNS = Array.from({ length: 1500 }, (_, i) => `thing${i.toString(36)}`).concat(
  ['man', 'woman', 'dog', 'cat', 'car', 'tree', 'shirt', 'hat', 'sign', 'building', 'window', 'table', 'chair', 'child']);
const RELATIONS = ['on', 'near', 'behind', 'next to', 'in front of', 'under', 'left of', 'right of', 'holding', 'wearing'];

/** The header of the generated report (model and dataset as bench/insights/load.ts opens them). */
export const GENERATED_MODEL = { name: 'amc-small-synthetic', sha256: '0'.repeat(64) };
export const GENERATED_DATASET_FILE = 'region_descriptions.json';

/**
 * The generated rows in order (the same sequence every time: load.ts rebuilds the dataset of the report from it).
 * Visual-Genome-like: 4-16 queries per image, phrases of 1-9 words, 1-3 boxes, 0.5 % not scored.
 */
export function* generatedRows(queries: number): Generator<EvalRow> {
  const rand = rng(42);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  let image = 0, left = 0, width = 0, height = 0, split = 'train';
  for (let i = 0; i < queries; i++) {
    if (left === 0) {
      image++; left = 4 + Math.floor(rand() * 13);
      width = 300 + Math.floor(rand() * 340); height = 240 + Math.floor(rand() * 260);
      split = rand() < 0.8 ? 'train' : rand() < 0.5 ? 'val' : 'test';
    }
    left--;
    const words: string[] = [];
    const form = rand();
    if (form < 0.15) words.push(pick(NOUNS));
    else {
      words.push('the');
      if (rand() < 0.6) words.push(pick(SIZES));
      if (rand() < 0.7) words.push(pick(COLOURS));
      words.push(pick(NOUNS));
      if (form > 0.6) words.push(...pick(RELATIONS).split(' '), 'the', pick(NOUNS));
    }
    const boxes: [number, number, number, number][] = [];
    const nBoxes = rand() < 0.8 ? 1 : rand() < 0.7 ? 2 : 3;
    for (let b = 0; b < nBoxes; b++) {
      const w = Math.max(2, Math.round(width * rand() * rand())), h = Math.max(2, Math.round(height * rand() * rand()));
      const x = Math.floor(rand() * (width - w)), y = Math.floor(rand() * (height - h));
      boxes.push([x, y, x + w, y + h]);
    }
    const row: EvalRow = {
      index: i, id: `${image}:${i}`, split, image: `/data/vg/VG_100K/${1000000 + image}.jpg`,
      phrase: words.join(' '), boxes,
    };
    if (rand() < 0.005) {
      row.error = `/data/vg/VG_100K/${1000000 + image}.jpg: image file not found`;
      row.reason = 'image file not found';
    }
    else {
      const b = boxes[0];
      const point = rand() < 0.55
        ? {
          x: Math.floor(b[0] + 1 + rand() * Math.max(0, b[2] - b[0] - 2)),
          y: Math.floor(b[1] + 1 + rand() * Math.max(0, b[3] - b[1] - 2)),
        }
        : { x: Math.floor(rand() * width), y: Math.floor(rand() * height) };
      // float32 metrics as the writers write them: 9 significant digits (src/cli/report.ts reportFloat).
      const f32 = (x: number): number => reportFloat(Math.fround(x));
      const lMax = rand() * 1.2;
      Object.assign(row, {
        width, height, hit: isHit(point, boxes), point, score: f32(rand() * 8 - 4), itmProbability: f32(rand()),
        lMean: f32(rand() * 0.4), lMax: f32(lMax), total: reportFloat(0.2 * rand() * 0.4 + 0.8 * Math.fround(lMax)), maskEmpty: false,
      });
    }
    yield row;
  }
}

/** Names the generator's output in the bench's stamp file (v2: error rows carry "reason"; v3: the writers' layout;
 * v4: float32 metrics with 9 significant digits, as the writers write them). */
export const GENERATOR_VERSION = 'v4';

/** The header of the generated report (everything but "samples", which is empty here). */
export function generatedHeader(queries: number): EvalReport {
  return {
    schema: 'amc-eval-report', schemaVersion: 1, writer: 'amc eval',
    model: { name: GENERATED_MODEL.name, cardSha256: GENERATED_MODEL.sha256, checkpointSha256: null, dir: '/models/amc-small-synthetic', provider: 'cpu' },
    dataset: { file: GENERATED_DATASET_FILE, size: 0, format: 'vg-regions' },
    file: `/data/vg/${GENERATED_DATASET_FILE}`, format: 'vg-regions',
    split: null, started: new Date(0).toISOString(), finished: new Date(0).toISOString(), interrupted: false,
    durationS: 1, samplesPerS: queries, counts: { queries, evaluated: queries, errors: 0, notScored: 0, skippedNoBox: 0 },
    notScored: [], summary: 'generated for the bench (the header counts are not used)', accuracy: [], worstRule: 'misses first', worst: [], samples: [],
  };
}

/**
 * The report `amc eval --out` would write for the generated rows, in its layout (src/cli/report.ts reportJson:
 * indented by one space, each sample compact on a line of its own), written as it is generated. `indented`: the
 * layout the writers used before 2026-12-03 (JSON.stringify(report, null, 1)), which readers still read.
 */
export async function generateReport(file: string, queries: number, layout: 'rows' | 'indented' = 'rows'): Promise<void> {
  const text = JSON.stringify(generatedHeader(queries), null, 1);
  const [before, after] = text.split('\n "samples": []');
  const out = createWriteStream(file);
  const write = (s: string): Promise<void> => new Promise((resolve) => { if (out.write(s)) resolve(); else out.once('drain', resolve); });
  await write(`${before}\n "samples": [\n`);
  let chunk = '';
  let i = 0;
  for (const row of generatedRows(queries)) {
    const json = layout === 'rows' ? JSON.stringify(row) : JSON.stringify(row, null, 1).replace(/^/gm, '  ');
    chunk += `${i++ ? ',\n' : ''}${json}`;
    if (chunk.length > 1 << 20) { await write(chunk); chunk = ''; }
  }
  await write(`${chunk}\n ]${after}\n`);
  await new Promise<void>((resolve) => out.end(resolve));
}
