// How far sharp's own resize is from PIL's (which the trainer uses and src/model/pil-resample.ts reproduces bit
// for bit, see test/unit/model/image.test.ts): the measurement behind doing the resize in TypeScript.
//   npx tsx bench/explain/resample-vs-sharp.ts
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeRgb, readImageBytes } from '../../src/model/image';
import { resizeRgbLikePil, type Resampling } from '../../src/model/pil-resample';

const ROOT = path.resolve(__dirname, '..', '..');
const dir = path.join(ROOT, 'samples/synthetic/flickr30k/flickr30k-images');

async function main(): Promise<void> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.jpg')).slice(0, 12).map((f) => path.join(dir, f));
  const pairs: [Resampling, 'linear' | 'cubic' | 'mitchell' | 'lanczos3'][] = [['bilinear', 'linear'], ['bicubic', 'cubic'], ['bicubic', 'mitchell'], ['bicubic', 'lanczos3']];
  console.log('| PIL filter | sharp kernel | S | max |Δ| (uint8) | mean |Δ| | pixels differing |');
  console.log('|---|---|---|---|---|---|');
  for (const S of [256, 384]) {
    for (const [pil, kernel] of pairs) {
      let max = 0, sum = 0, differ = 0, n = 0;
      for (const f of files) {
        const img = await decodeRgb(await readImageBytes(f), f);
        const ref = resizeRgbLikePil(img.data, img.width, img.height, S, S, pil);
        const got = await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } })
          .resize(S, S, { fit: 'fill', kernel }).raw().toBuffer();
        for (let i = 0; i < ref.length; i++) { const d = Math.abs(ref[i] - got[i]); max = Math.max(max, d); sum += d; if (d) differ++; }
        n += ref.length;
      }
      console.log(`| ${pil} | ${kernel} | ${S} | ${max} | ${(sum / n).toFixed(3)} | ${(100 * differ / n).toFixed(1)}% |`);
    }
  }
}

void main();
