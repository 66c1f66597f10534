// The image pipeline against the trainer's own `load_eval_image` (PIL resize + torch normalise), run by the
// real /usr/bin/python3 on the same files: bit-exact pixels for PNG, EXIF / alpha / greyscale / CMYK handling.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeRgb, normalizeToChw, prepareImage, readImageBytes } from '../../../src/model/image';
import { resizeRgbLikePil, type Resampling } from '../../../src/model/pil-resample';

const root = path.resolve(__dirname, '../../..');
const python = process.env.AMC_PYTHON || '/usr/bin/python3';
const CLIP = { mean: [0.48145466, 0.4578275, 0.40821073] as const, std: [0.26862954, 0.26130258, 0.27577711] as const };

interface Job { file: string; size: number; resample: Resampling; }

/** Run the trainer's load_eval_image on every job in ONE python process (torch import dominates); float32 [3,S,S] each. */
function trainerTensors(jobs: Job[], out: string): Float32Array[] {
  const code = `
import sys, json, numpy as np
sys.path.insert(0, ${JSON.stringify(path.join(root, 'trainer'))})
from amc_trainer.data import load_eval_image
jobs, out = json.loads(sys.argv[1]), sys.argv[2]
with open(out, 'wb') as f:
    for j in jobs:
        f.write(load_eval_image(j['file'], j['size'], resample=j['resample']).numpy().astype(np.float32).tobytes())
`;
  const r = spawnSync(python, ['-c', code, JSON.stringify(jobs), out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  const buf = readFileSync(out);
  const tensors: Float32Array[] = [];
  let offset = 0;
  for (const j of jobs) {
    const bytes = 3 * j.size * j.size * 4;
    tensors.push(new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + bytes)));
    offset += bytes;
  }
  return tensors;
}

function pixelsOf(seed: number, w: number, h: number, channels: number): Buffer {
  const px = Buffer.alloc(w * h * channels);
  let s = seed >>> 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < channels; c++) {
        s = (s * 1664525 + 1013904223) >>> 0;
        // smooth gradients plus noise, so both flat regions and edges are exercised
        px[(y * w + x) * channels + c] = (((x * (c + 1) * 3 + y * 2) & 255) + (s >>> 28)) & 255;
      }
    }
  }
  return px;
}

describe('image pipeline vs the trainer (PIL + torch)', function () {
  this.timeout(120_000);
  let tmp: string;
  const jobs: Job[] = [];
  let expected: Float32Array[] = [];
  const specs: [string, number, number, number][] = [['rgb-down', 640, 427, 3], ['rgb-odd', 97, 61, 3], ['grey', 300, 500, 1], ['rgba', 123, 77, 4]];

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'amc-image-'));
    for (const [i, [name, w, h, c]] of specs.entries()) {
      const f = path.join(tmp, `${name}.png`);
      await sharp(pixelsOf(i + 1, w, h, c), { raw: { width: w, height: h, channels: c as 1 | 3 | 4 } }).png().toFile(f);
      for (const resample of ['bilinear', 'bicubic'] as const) for (const size of [256, 64]) jobs.push({ file: f, size, resample });
    }
    const jpg = path.join(tmp, 'photo.jpg');
    await sharp(pixelsOf(7, 333, 222, 3), { raw: { width: 333, height: 222, channels: 3 } }).jpeg({ quality: 90 }).toFile(jpg);
    jobs.push({ file: jpg, size: 256, resample: 'bicubic' });
    expected = trainerTensors(jobs, path.join(tmp, 'expected.bin'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  async function worstDiff(j: Job, k: number): Promise<number> {
    const ours = await prepareImage(j.file, { size: j.size, mean: CLIP.mean, std: CLIP.std, resampling: j.resample });
    let worst = 0;
    for (let i = 0; i < expected[k].length; i++) worst = Math.max(worst, Math.abs(ours.tensor[i] - expected[k][i]));
    return worst;
  }

  it('PNG RGB / greyscale / RGBA, down- and up-scaling, bilinear and bicubic at 256 and 64: identical float32 tensors', async () => {
    for (const [k, j] of jobs.entries()) {
      if (!j.file.endsWith('.png')) continue;
      assert.equal(await worstDiff(j, k), 0, `${path.basename(j.file)} ${j.resample} ${j.size}`);
    }
  });

  it('JPEG: sharp (libjpeg-turbo) and PIL decode to the same pixels', async () => {
    const k = jobs.findIndex((j) => j.file.endsWith('.jpg'));
    // one uint8 step is 1/255/std ≈ 0.0146 in normalised units; allow one step for a different IDCT build
    const worst = await worstDiff(jobs[k], k);
    assert.ok(worst <= 0.015, `max |diff| ${worst}`);
  });
});

describe('image pipeline: decoding rules', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'amc-image-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('applies EXIF orientation (a 6 = rotate 90° tag swaps width and height), or keeps stored pixels when asked', async () => {
    const f = path.join(tmp, 'rotated.jpg');
    await sharp(pixelsOf(3, 80, 40, 3), { raw: { width: 80, height: 40, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toFile(f);
    const bytes = await readImageBytes(f);
    const turned = await decodeRgb(bytes, f);
    assert.deepEqual([turned.width, turned.height], [40, 80]);
    const stored = await decodeRgb(bytes, f, undefined, false);
    assert.deepEqual([stored.width, stored.height], [80, 40]);
  });

  it('drops alpha as PIL convert("RGB") does (no compositing), replicates grey, converts CMYK to 3 channels', async () => {
    const rgba = path.join(tmp, 'alpha.png');
    await sharp(Buffer.from([200, 100, 50, 0, 10, 20, 30, 255]), { raw: { width: 2, height: 1, channels: 4 } }).png().toFile(rgba);
    const a = await decodeRgb(await readImageBytes(rgba), rgba);
    assert.deepEqual([...a.data], [200, 100, 50, 10, 20, 30]);
    const grey = path.join(tmp, 'grey.png');
    await sharp(Buffer.from([0, 77, 255]), { raw: { width: 3, height: 1, channels: 1 } }).png().toFile(grey);
    const g = await decodeRgb(await readImageBytes(grey), grey);
    assert.deepEqual([...g.data], [0, 0, 0, 77, 77, 77, 255, 255, 255]);
    const cmyk = path.join(tmp, 'cmyk.jpg');
    await sharp(pixelsOf(4, 16, 16, 3), { raw: { width: 16, height: 16, channels: 3 } }).toColourspace('cmyk').jpeg().toFile(cmyk);
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    const c = await decodeRgb(await readImageBytes(cmyk), cmyk);
    assert.equal(c.data.length, 16 * 16 * 3);
  });

  it('normalises like torch: (u8/255 − mean)/std in float32', () => {
    const rgb = new Uint8Array([0, 128, 255, 255, 0, 1, 7, 7, 7, 200, 100, 50]);
    const t = normalizeToChw(rgb, 2, CLIP.mean, CLIP.std);
    const f = Math.fround;
    for (let i = 0; i < 4; i++) {
      for (let c = 0; c < 3; c++) {
        assert.equal(t[c * 4 + i], f(f(f(rgb[i * 3 + c] / 255) - f(CLIP.mean[c])) / f(CLIP.std[c])));
      }
    }
  });

  it('PIL resampling filters are reproduced for every mode PIL offers (nearest, box, bilinear, hamming, bicubic, lanczos)', () => {
    // Reference values: PIL 9.4 Image.resize on this 5×3 image to 3×4 (computed once with /usr/bin/python3).
    const src = new Uint8Array(pixelsOf(11, 5, 3, 3));
    const code = `
import sys, json, numpy as np
from PIL import Image
a = np.frombuffer(bytes(json.loads(sys.argv[1])), dtype=np.uint8).reshape(3, 5, 3)
m = {'nearest': Image.NEAREST, 'box': Image.BOX, 'bilinear': Image.BILINEAR, 'hamming': Image.HAMMING, 'bicubic': Image.BICUBIC, 'lanczos': Image.LANCZOS}
print(json.dumps({k: np.asarray(Image.fromarray(a).resize((3, 4), v)).reshape(-1).tolist() for k, v in m.items()}))
`;
    const r = spawnSync(python, ['-c', code, JSON.stringify([...src])], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const ref = JSON.parse(r.stdout) as Record<Resampling, number[]>;
    for (const mode of Object.keys(ref) as Resampling[]) {
      assert.deepEqual([...resizeRgbLikePil(src, 5, 3, 3, 4, mode)], ref[mode], mode);
    }
  });
});
