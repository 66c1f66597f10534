// Writes a Visual-Genome-shaped region_descriptions.json (+ image_data.json) of a chosen size, byte-for-byte
// in the layout Python's json.dump gives the real file (", " and ": " separators, "regions" before "id").
// Deterministic (seeded), so a cached file is reused across runs.
//   node bench/open-vg/generate.mjs OUT_DIR [--images 108077] [--mean-regions 50] [--seed 1]
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const WORDS = ('man woman person boy girl dog cat horse car bus truck bike tree sky cloud grass road sign pole light ' +
  'window building wall door roof shirt pants hat hair hand arm leg head face eye nose mouth ear shadow table chair ' +
  'plate cup bowl food pizza sandwich water ocean wave sand snow mountain rock fence street sidewalk train track ' +
  'white black red blue green yellow brown gray orange pink small large tall short wooden metal glass old new ' +
  'on in of with near behind under above the a an is are wearing holding sitting standing parked hanging').split(' ');

/** Small fast PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function generate(outDir, { images = 108077, meanRegions = 50, seed = 1 } = {}) {
  mkdirSync(outDir, { recursive: true });
  const random = rng(seed);
  const file = path.join(outDir, 'region_descriptions.json');
  const out = createWriteStream(file, { highWaterMark: 1 << 22 });
  let regionId = 1;
  let regions = 0;
  let pending = '[';
  const sizes = [];
  const flush = async () => {
    if (!out.write(pending)) await new Promise((r) => out.once('drain', r));
    pending = '';
  };
  for (let img = 1; img <= images; img++) {
    const width = 300 + Math.floor(random() * 500), height = 200 + Math.floor(random() * 400);
    sizes.push([img, width, height]);
    const n = 1 + Math.floor(random() * (2 * meanRegions - 1));
    const parts = [];
    for (let r = 0; r < n; r++) {
      const words = 2 + Math.floor(random() * 6);
      let phrase = '';
      for (let w = 0; w < words; w++) phrase += (w ? ' ' : '') + WORDS[Math.floor(random() * WORDS.length)];
      if (random() < 0.02) phrase += ' \\"quoted\\"'; // escapes occur in the real file
      const x = Math.floor(random() * (width - 10)), y = Math.floor(random() * (height - 10));
      const w = 1 + Math.floor(random() * (width - x)), h = 1 + Math.floor(random() * (height - y));
      parts.push(`{"region_id": ${regionId++}, "width": ${w}, "height": ${h}, "image_id": ${img}, "phrase": "${phrase}", "y": ${y}, "x": ${x}}`);
    }
    regions += n;
    pending += `${img > 1 ? ', ' : ''}{"regions": [${parts.join(', ')}], "id": ${img}}`;
    if (pending.length > 1 << 20) await flush();
  }
  pending += ']';
  await flush();
  await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
  const imageData = sizes.map(([id, width, height]) => ({
    width, url: `https://cs.stanford.edu/people/rak248/VG_100K${id % 2 ? '' : '_2'}/${id}.jpg`, height, image_id: id,
    coco_id: null, flickr_id: null,
  }));
  writeFileSync(path.join(outDir, 'image_data.json'), JSON.stringify(imageData));
  return { file, images, regions };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { images: { type: 'string' }, 'mean-regions': { type: 'string' }, seed: { type: 'string' } },
  });
  if (positionals.length !== 1) { console.error('usage: generate.mjs OUT_DIR [--images N] [--mean-regions M] [--seed S]'); process.exit(2); }
  const r = await generate(positionals[0], {
    images: Number(values.images ?? 108077), meanRegions: Number(values['mean-regions'] ?? 50), seed: Number(values.seed ?? 1),
  });
  console.log(JSON.stringify(r));
}
