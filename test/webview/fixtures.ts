// A small real dataset for the webview tests: PNG scenes drawn with sharp and an AMC VG JSON that names them,
// opened with the real reader. Plus a generated 5-million-row dataset for the virtualization test.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { BoxXYXY, Sample } from '../../src/core/types';
import { MemoryDataset } from '../../src/editor/memoryDataset';
import { ROOT } from './host';

export interface SceneFixture {
  dir: string; file: string; boxes: Map<string, BoxXYXY>; imageCount: number; sampleCount: number; missingImageIndex: number;
}

const COLORS: Array<[string, [number, number, number]]> = [['red', [220, 40, 40]], ['blue', [40, 70, 220]], ['green', [40, 170, 60]], ['yellow', [230, 210, 40]]];

/** Deterministic scenes: image i has two coloured rectangles; one phrase per rectangle plus one for both. */
export async function writeSceneDataset(): Promise<SceneFixture> {
  const dir = path.join(ROOT, 'test', '.work', 'webview-scenes');
  const imagesDir = path.join(dir, 'images');
  mkdirSync(imagesDir, { recursive: true });
  const entries: Array<{ image: string; caption: string | string[]; bbox: BoxXYXY[] }> = [];
  const boxes = new Map<string, BoxXYXY>();
  const imageCount = 8;
  for (let i = 0; i < imageCount; i++) {
    const width = i % 2 ? 240 : 320, height = i % 2 ? 320 : 240;
    const a = COLORS[i % 4], b = COLORS[(i + 1) % 4];
    const boxA: BoxXYXY = [20 + 5 * i, 30, 20 + 5 * i + 90, 30 + 80];
    const boxB: BoxXYXY = [width - 120, height - 110, width - 30, height - 20];
    const name = `scene${i}.png`;
    const file = path.join(imagesDir, name);
    if (!existsSync(file)) {
      const raw = Buffer.alloc(width * height * 3);
      for (let p = 0; p < width * height; p++) {
        const noise = ((p * 2654435761 + i * 97) >>> 24) % 40;
        raw[p * 3] = 110 + noise; raw[p * 3 + 1] = 110 + noise; raw[p * 3 + 2] = 100 + noise;
      }
      const paint = (box: BoxXYXY, rgb: [number, number, number]) => {
        for (let y = box[1]; y < box[3]; y++) for (let x = box[0]; x < box[2]; x++) raw.set(rgb, (y * width + x) * 3);
      };
      paint(boxA, a[1]); paint(boxB, b[1]);
      await sharp(raw, { raw: { width, height, channels: 3 } }).png().toFile(file);
    }
    entries.push({ image: `images/${name}`, caption: [`the ${a[0]} square`, `a ${a[0]} box on the left`], bbox: [boxA] });
    entries.push({ image: `images/${name}`, caption: `the ${b[0]} square`, bbox: [boxB] });
    boxes.set(`${i}:${a[0]}`, boxA);
    boxes.set(`${i}:${b[0]}`, boxB);
  }
  entries.push({ image: 'images/does-not-exist.png', caption: 'a picture that is not there', bbox: [[10, 10, 50, 50]] });
  const file = path.join(dir, 'vg_scenes.json');
  writeFileSync(file, JSON.stringify(entries, null, 1));
  return { dir, file, boxes, imageCount, sampleCount: imageCount * 3 + 1, missingImageIndex: imageCount * 3 };
}

const WORDS = ['red', 'blue', 'green', 'small', 'large', 'circle', 'square', 'star', 'left', 'right'];

/** `count` generated samples (no file can hold 5 M rows quickly); images do not exist. */
export function hugeDataset(count: number): MemoryDataset {
  const splits = ['train', 'val', 'test'];
  const at = (i: number): Sample => ({
    index: i, id: `g${i}`, image: `/nonexistent/huge/${i % 1000}.jpg`, imageId: String(i % 1000),
    phrase: `${WORDS[i % 10]} ${WORDS[(i >> 3) % 10]} #${i}`, caption: '', boxes: [[1, 1, 5, 5]], sourceBoxes: [[1, 1, 5, 5]],
    hitRule: 'xyxy', split: splits[i % 3], ids: {}, source: { file: 'generated', entry: `[${i}]` },
  });
  return new MemoryDataset('/generated/huge.json', 'amc-vg', { count, at, splits });
}
