// The grounding math against PyTorch fixtures written by scripts/gen-core-fixtures.py (docs/reference.md §1.3, §2, §4).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  accuracyBySplit, amcLoss, argmaxFirst, boxesToMask, colorizeMap, colormap, isHit, nearestSourceIndices, pointingGame, resizeMaskNearest,
  sampleLosses, trainingMap, upsampleBicubic, upsampleBilinear, type BoxXYXY,
} from '../../../src/core/math';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', 'core', `${name}.json`), 'utf8')).data;
const f32 = (b64: string) => {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
};
const unpackBits = (b64: string, n: number) => {
  const bytes = Buffer.from(b64, 'base64');
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
  return out;
};

describe('core math: evaluation path (docs/reference.md §4.1)', () => {
  const cases = fixture('bicubic');
  for (const c of cases) {
    it(`bicubic ${c.grid}² → ${c.H}×${c.W}${c.name ? ` (${c.name})` : ''}: torch values and first argmax`, () => {
      const up = upsampleBicubic(f32(c.cam), c.grid, c.grid, c.H, c.W);
      // torch's float32 kernel rounds differently in the last bits (see interpolate.ts): values agree to 1e-5 of
      // the map's maximum (measured: ≤ 1.5e-6), far below the differences that decide a real argmax.
      const tolerance = 1e-5 * Math.abs(c.max);
      if (c.out) {
        const expected = f32(c.out);
        up.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tolerance, `value ${i}: ${v} vs ${expected[i]}`));
      }
      for (const [i, v] of c.samples) assert.ok(Math.abs(up[i] - v) <= tolerance, `value at ${i}`);
      const max = up.reduce((m, v) => Math.max(m, v), -Infinity);
      assert.ok(Math.abs(max - c.max) <= tolerance);
      let sum = 0; for (const v of up) sum += v;
      assert.ok(Math.abs(sum - c.sum) <= 1e-6 * Math.max(1e-3, Math.abs(c.sum)), `sum ${sum} vs ${c.sum}`);
      const p = argmaxFirst(up, c.H, c.W);
      if (c.ulp_tie) {
        // A flat region is flat only up to float32 noise, whose last bit decides torch's argmax: we guarantee a
        // point whose torch value is a maximum to within that noise, and the first such point on exact ties.
        const torchValue = c.value_at[`${p.x},${p.y}`] ?? up[p.y * c.W + p.x];
        assert.ok(Math.abs(torchValue - c.max) <= tolerance, `argmax ${p.x},${p.y} is not a maximum`);
      } else {
        assert.deepEqual([p.x, p.y], c.argmax);
      }
    });
  }

  it('argmax takes the first maximum in row-major order and refuses NaN', () => {
    assert.deepEqual(argmaxFirst([0, 2, 1, 2], 2, 2), { x: 1, y: 0 });
    assert.deepEqual(argmaxFirst([5, 5, 5, 5], 2, 2), { x: 0, y: 0 });
    assert.throws(() => argmaxFirst([0, NaN, 1, 2], 2, 2), /NaN/);
  });

  const pointing = fixture('pointing');
  for (const [k, c] of pointing.entries()) {
    it(`pointing game case ${k} (g ${c.grid}, ${c.W}×${c.H}): point, per-box hits (xyxy, xywh) and the union`, () => {
      const { point } = pointingGame(f32(c.cam), c.grid, c.W, c.H, []);
      assert.deepEqual([point.x, point.y], c.point);
      for (const b of c.boxes) assert.equal(isHit(point, [b.box], 'xyxy'), b.hit, `xyxy ${b.box}`);
      for (const b of c.xywh) assert.equal(isHit(point, [b.box], 'xywh'), b.hit, `xywh ${b.box}`);
      const union = [c.boxes[1].box, c.boxes[2].box] as BoxXYXY[];
      assert.equal(pointingGame(f32(c.cam), c.grid, c.W, c.H, union).hit, c.union_hit);
    });
  }

  it('a point on a box edge is a miss (strictly inside, no tolerance)', () => {
    assert.equal(isHit({ x: 10, y: 15 }, [[10, 10, 20, 20]]), false);
    assert.equal(isHit({ x: 11, y: 15 }, [[10, 10, 20, 20]]), true);
    assert.equal(isHit({ x: 20, y: 15 }, [[10, 10, 10, 10]], 'xywh'), false);
    assert.equal(isHit({ x: 19, y: 19 }, [[10, 10, 10, 10]], 'xywh'), true);
  });

  it('accuracy per split, in first-seen order, plus all', () => {
    const acc = accuracyBySplit([{ split: 'val', hit: true }, { split: 'testA', hit: false }, { split: 'val', hit: false }]);
    assert.deepEqual(acc.map((a) => [a.split, a.hits, a.total, a.accuracy]),
      [['val', 1, 2, 0.5], ['testA', 0, 1, 0], ['all', 1, 3, 1 / 3]]);
  });

  it('a file without splits gets the all row alone, no (none) row; samples without a split beside named ones keep it (issue 14 item 4)', () => {
    const none = accuracyBySplit([{ hit: true }, { split: undefined, hit: false }, { split: null, hit: true }]);
    assert.deepEqual(none.map((a) => [a.split, a.hits, a.total]), [['all', 2, 3]]);
    const mixed = accuracyBySplit([{ split: 'val', hit: true }, { hit: false }]);
    assert.deepEqual(mixed.map((a) => [a.split, a.hits, a.total]), [['val', 1, 1], ['(none)', 0, 1], ['all', 1, 2]]);
    assert.deepEqual(accuracyBySplit([]).map((a) => [a.split, a.total]), [['all', 0]]);
  });
});

describe('core math: box masks (docs/reference.md §2)', () => {
  const { cases, differing_sides } = fixture('masks');
  it('OpenCV nearest differs from floor(i*n/256) on the sides the fixture lists (246, 372, 396, 420 …)', () => {
    for (const n of [246, 372, 396, 420]) assert.ok(differing_sides.includes(n));
    for (const n of differing_sides) {
      const cv = nearestSourceIndices(n, 256);
      assert.ok(cv.some((v, i) => v !== Math.floor((i * n) / 256)), `side ${n}`);
    }
  });
  for (const c of cases) {
    const label = c.box ? `[${c.box}]` : `union of ${c.boxes.length}`;
    it(`mask ${c.w}×${c.h} box ${label}: clamp, int(), end-exclusive, nearest to 256`, () => {
      const boxes = (c.box ? [c.box] : c.boxes) as BoxXYXY[];
      const m = boxesToMask(boxes, c.w, c.h);
      assert.equal(m.reduce((a, v) => a + v, 0), c.sum_orig);
      assert.deepEqual(Array.from(resizeMaskNearest(m, c.w, c.h)), Array.from(unpackBits(c.resized, 65536)));
    });
  }
  it('rejects a box with NaN instead of drawing a wrong mask', () => {
    assert.throws(() => boxesToMask([[0, 0, NaN, 5]], 10, 10), /non-finite/);
  });
});

describe('core math: training map and AMC loss (docs/reference.md §1.3, §2)', () => {
  const cases = fixture('losses');
  for (const c of cases) {
    it(`${c.name}: normalised map and L_mean/L_max/total`, () => {
      const maps = c.items.map((it: any) => trainingMap(f32(it.cam), c.grid));
      for (const [i, v] of c.map0_samples) assert.ok(Math.abs(maps[0][i] - v) <= 1e-5, `map value ${i}: ${maps[0][i]} vs ${v}`);
      let sum = 0; for (const v of maps[0]) sum += v;
      assert.ok(Math.abs(sum - c.map0_sum) <= 1e-5 * 65536);
      const masks = c.items.map((it: any) => resizeMaskNearest(boxesToMask(it.boxes, it.w, it.h), it.w, it.h));
      const loss = amcLoss(maps, masks);
      const expected = c.torch.lMean === null ? c.convention : c.torch;
      assert.ok(Math.abs(loss.lMean - expected.lMean) <= 1e-5, `lMean ${loss.lMean} vs ${expected.lMean}`);
      assert.ok(Math.abs(loss.lMax - expected.lMax) <= 1e-5, `lMax ${loss.lMax} vs ${expected.lMax}`);
      assert.ok(Math.abs(loss.total - expected.total) <= 1e-5, `total ${loss.total} vs ${expected.total}`);
      if (c.items.length === 1) {
        const it0 = c.items[0];
        const s = sampleLosses(f32(it0.cam), c.grid, it0.boxes, it0.w, it0.h);
        assert.ok(Math.abs(s.total - expected.total) <= 1e-5);
        assert.ok(Number.isFinite(s.lMean) && Number.isFinite(s.lMax));
        if (c.name.includes('empty')) assert.equal(s.maskEmpty, true);
        if (c.name.includes('whole-image')) assert.equal(s.maskFull, true);
      }
    });
  }

  it('empty and whole-image masks follow the documented convention, never NaN', () => {
    const map = new Float32Array(65536).fill(0.25);
    const empty = amcLoss([map], [new Uint8Array(65536)]);
    assert.ok(Math.abs(empty.lMean - 0.35) < 1e-9 && Math.abs(empty.lMax - 0.75) < 1e-9);
    const full = amcLoss([map], [new Uint8Array(65536).fill(1)]);
    assert.equal(full.lMean, 0); // max(0, 0 − 0.25 + 0.1)
    assert.equal(full.lMax, 0.25); // max(0, 0 − 0.25 + 0.5)
  });

  it('bilinear upsample of a constant is that constant; of a ramp matches torch at the borders', () => {
    const up = upsampleBilinear(new Float32Array(16 * 16).fill(0.5), 16, 16, 256, 256);
    assert.ok(up.every((v) => Math.abs(v - 0.5) < 1e-7));
    const ramp = upsampleBilinear([0, 1], 1, 2, 1, 4); // torch: [0, 0.25, 0.75, 1]
    assert.deepEqual(Array.from(ramp), [0, 0.25, 0.75, 1]);
  });
});

describe('core math: colormaps', () => {
  it('jet and viridis match matplotlib at the ends and the middle', () => {
    assert.deepEqual(colormap('jet', 0), [0, 0, 128]);      // matplotlib jet(0) = (0, 0, 0.5)
    assert.deepEqual(colormap('jet', 1), [128, 0, 0]);      // jet(1) = (0.5, 0, 0)
    assert.deepEqual(colormap('viridis', 0), [68, 1, 84]);  // viridis(0) = #440154
    assert.deepEqual(colormap('viridis', 1), [253, 231, 37]); // viridis(1) = #fde725
    assert.deepEqual(colormap('viridis', NaN), colormap('viridis', 0));
  });
  it('colorizeMap scales min..max to the table and applies opacity', () => {
    const rgba = colorizeMap([0, 5, 10, 10], 2, 2, 'jet', 0.5);
    assert.deepEqual(Array.from(rgba.slice(0, 4)), [0, 0, 128, 128]);
    assert.deepEqual(Array.from(rgba.slice(8, 12)), [128, 0, 0, 128]);
    assert.ok(colorizeMap([3, 3], 2, 1, 'viridis').every((v, i) => i % 4 === 3 || v === colormap('viridis', 0)[i % 4]));
  });
});
