// The byte scanner and the streaming index behind the VG readers: chunk boundaries anywhere, equality with
// JSON.parse on a generated multi-MB file, pages served while indexing continues.
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { GrowableColumn, JsonScanError, JsonScanner, type ScanHandler } from '../../../../src/core/datasets/jsonScan';
import { openVgRegions } from '../../../../src/core/datasets/vg';
import { openAmcVg } from '../../../../src/core/datasets/amcVg';
import { preCaption } from '../../../../src/core/text';

const WORK = path.join(__dirname, '..', '..', '..', '.work', 'vg-scan');

function recorder(): { handler: ScanHandler; events: string[] } {
  const events: string[] = [];
  return {
    events,
    handler: {
      open: (o, d, off) => events.push(`open ${o ? '{' : '['} ${d} @${off}`),
      close: (o, d, off) => events.push(`close ${o ? '}' : ']'} ${d} @${off}`),
      key: (d, name, off) => events.push(`key ${d} ${JSON.stringify(name)} @${off}`),
      scalar: (d, raw, off) => events.push(`scalar ${d} ${raw} @${off}`),
    },
  };
}

const TRICKY = Buffer.from(
  '[{"regions": [{"phrase": "a \\"quoted\\" \\\\ back\\\\\\\\slash \\u00e9 caf\u00e9 \u{1F600} [x] {y}", "x": -1.5e3}], ' +
  '"id": 17, "k\\"ey": "v\\\\", "nested": [[1, [2]], {"deep": {"deeper": [true, false, null]}}]}, ' +
  '{"id": "s", "regions": []}, 42, "top string"]', 'utf8');

describe('JsonScanner', () => {
  const depths = { eventDepth: 4, keyDepth: 3, scalarDepth: 3 };

  it('gives the same events for every chunk size (strings, escapes and multi-byte UTF-8 split anywhere)', () => {
    const whole = recorder();
    const scanner = new JsonScanner(whole.handler, depths);
    scanner.push(TRICKY, 0);
    scanner.finish();
    assert.ok(whole.events.includes('key 2 "k\\"ey" @' + TRICKY.indexOf('"k\\"ey"')));
    assert.ok(whole.events.includes('scalar 2 "v\\\\" @' + TRICKY.indexOf('"v\\\\"')));
    assert.ok(whole.events.includes(`scalar 1 42 @${TRICKY.indexOf('42')}`));
    for (let size = 1; size <= TRICKY.length; size++) {
      const r = recorder();
      const s = new JsonScanner(r.handler, depths);
      for (let at = 0; at < TRICKY.length; at += size) s.push(TRICKY.subarray(at, Math.min(TRICKY.length, at + size)), at);
      s.finish();
      assert.deepEqual(r.events, whole.events, `chunk size ${size}`);
    }
  });

  it('reports where structure breaks: mismatched bracket, trailing data, truncation, empty input', () => {
    const run = (text: string): JsonScanError => {
      const s = new JsonScanner(recorder().handler, depths);
      try { s.push(Buffer.from(text), 0); s.finish(); } catch (err) { assert.ok(err instanceof JsonScanError); return err; }
      throw new Error(`accepted ${text}`);
    };
    assert.deepEqual([run('[{"a": [1}]').offset, run('[{"a": [1}]').message], [9, "'}' closes an array"]);
    assert.match(run('[1] [2]').message, /after the end of the JSON value/);
    assert.match(run('[{"a": "unterminated').message, /ends inside a string/);
    assert.match(run('[{"a": 1}').message, /ends inside 1 open bracket/);
    assert.match(run('   ').message, /no JSON value/);
    assert.match(run('{1: 2}').message, /expected an object key/);
  });
});

describe('GrowableColumn', () => {
  it('grows across blocks without losing values, and binary-searches a sorted column', () => {
    const col = new GrowableColumn();
    for (let i = 0; i < 200_000; i++) col.push(i * 3);
    assert.equal(col.length, 200_000);
    assert.equal(col.get(0), 0);
    assert.equal(col.get(65_535), 65_535 * 3);
    assert.equal(col.get(65_536), 65_536 * 3);
    assert.equal(col.get(199_999), 199_999 * 3);
    assert.equal(col.findLastAtMost(7), 2);
    assert.equal(col.findLastAtMost(-1), -1);
    assert.equal(col.byteLength, 4 * 65_536 * 4); // four blocks of uint32
    const wide = new GrowableColumn(true);
    wide.push(2 ** 33 + 5);
    assert.equal(wide.get(0), 2 ** 33 + 5); // byte offsets past 4 GiB survive
  });
});

/** A 12 MB VG-shaped file (2,000 images, 99k regions), written once under test/.work by the benchmark's generator. */
async function generated(): Promise<string> {
  const dir = path.join(WORK, 'gen-2000');
  const file = path.join(dir, 'region_descriptions.json');
  if (!existsSync(path.join(dir, 'image_data.json'))) {
    mkdirSync(WORK, { recursive: true });
    const { generate } = await import('../../../../bench/open-vg/generate.mjs'); // plain .mjs, typed by generate.d.mts
    await generate(dir, { images: 2000, meanRegions: 50, seed: 7 });
  }
  return file;
}

describe('VG streaming index on a generated multi-MB file', function () {
  this.timeout(120_000);
  const dir = path.join(WORK, 'gen-2000');
  const file = path.join(dir, 'region_descriptions.json');

  before(() => generated());

  it('serves the first page while indexing continues', async () => {
    const total = statSync(file).size;
    let bytesIndexed = 0;
    let completed = false;
    // 64 KiB reads make ~190 index steps, so the page's two reads land long before the index ends.
    const ds = await openVgRegions(file, { chunkBytes: 64 << 10, onProgress: (done) => { bytesIndexed = done; } });
    void ds.complete.then(() => { completed = true; });
    const page = await ds.page(0, 100);
    assert.equal(page.length, 100);
    assert.equal(completed, false, 'the first page waited for the whole index');
    assert.ok(bytesIndexed < total, `indexed ${bytesIndexed} of ${total} bytes when the first page came back`);
    const indexedThen = ds.count();
    await ds.complete;
    assert.ok(indexedThen < ds.count());
    await ds.close();
  });

  it('equals JSON.parse of the whole file, element for element', async () => {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { id: number; regions: Record<string, unknown>[] }[];
    const info = new Map((JSON.parse(readFileSync(path.join(dir, 'image_data.json'), 'utf8')) as { image_id: number; width: number; height: number; url: string }[])
      .map((e) => [e.image_id, e]));
    const ds = await openVgRegions(file);
    await ds.complete;
    const expectedCount = parsed.reduce((n, img) => n + img.regions.length, 0);
    assert.equal(ds.count(), expectedCount);
    assert.ok(expectedCount > 50_000, `only ${expectedCount} regions generated`);
    let index = 0;
    const PAGE = 7919; // a prime, so pages start mid-image
    let page = await ds.page(0, PAGE);
    let k = 0;
    for (const img of parsed) {
      const meta = info.get(img.id)!;
      const folder = meta.url.split('/').slice(-2, -1)[0];
      for (const r of img.regions) {
        if (k === page.length) { page = await ds.page(index, PAGE); k = 0; }
        const s = page[k++];
        assert.equal(s.index, index);
        assert.equal(s.id, String(r.region_id), `sample ${index}`);
        assert.equal(s.imageId, String(img.id));
        assert.equal(s.phrase, r.phrase);
        assert.equal(s.caption, preCaption(r.phrase as string));
        const [x, y, w, h] = [r.x, r.y, r.width, r.height] as number[];
        assert.deepEqual(s.boxes, [[x, y, x + w, y + h]]);
        assert.deepEqual([s.width, s.height], [meta.width, meta.height]);
        assert.equal(s.image, path.join(dir, folder, `${img.id}.jpg`));
        index++;
      }
    }
    assert.equal(index, expectedCount);
    await ds.close();
  });
});

describe('the index yields to the event loop (bench/open-gradcam: webview requests waited behind scan chunks)', function () {
  this.timeout(180_000);

  it('an interval timer keeps firing while a 40 MB file is indexed in one 64 MiB read', async () => {
    const dir = path.join(WORK, 'gen-6000');
    const file = path.join(dir, 'region_descriptions.json');
    if (!existsSync(path.join(dir, 'image_data.json'))) {
      mkdirSync(WORK, { recursive: true });
      const { generate } = await import('../../../../bench/open-vg/generate.mjs');
      await generate(dir, { images: 6000, meanRegions: 50, seed: 7 });
    }
    // One read holds the whole file after the first 256 KiB, so only the scan's own slicing lets the timer run.
    const ds = await openVgRegions(file, { chunkBytes: 64 << 20, phraseIndex: true });
    let last = performance.now(), maxGap = 0, ticks = 0;
    const t0 = performance.now();
    const timer = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; ticks++; }, 5);
    try {
      await ds.complete;
    } finally { clearInterval(timer); }
    const fullMs = performance.now() - t0;
    maxGap = Math.max(maxGap, performance.now() - last);
    assert.ok(ds.count() > 250_000, `${ds.count()} regions`);
    // Relative to the whole index, so machine load (which stretches both) does not make it flaky: before the
    // scanner yielded inside a chunk, the gap was the whole 40 MB scan. Unloaded: ~300 ms index, gaps of 10–25 ms.
    assert.ok(maxGap < fullMs / 3, `the longest gap between timer ticks was ${maxGap.toFixed(0)} ms of a ${fullMs.toFixed(0)} ms index`);
    assert.ok(ticks >= 10, `${ticks} timer ticks during a ${fullMs.toFixed(0)} ms index`);
    await ds.close();
  });
});

describe('pauseIndexing (the viewer holds a large file\'s index until its first explanation)', function () {
  this.timeout(60_000);

  it('indexes nothing more while held, serves the indexed pages, and finishes once released', async () => {
    const file = await generated();
    const ds = await openVgRegions(file, { chunkBytes: 64 << 10 });
    try {
      let release!: () => void;
      // Held from the start: the scan stops at its first yield (after ~10 ms of scanning, hundreds of samples).
      ds.pauseIndexing!(new Promise<void>((resolve) => { release = resolve; }));
      assert.equal((await ds.page(0, 100)).length, 100);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const held = ds.count();
      let completed = false;
      void ds.complete.then(() => { completed = true; });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(ds.count(), held, 'the index grew while held');
      assert.equal(completed, false);
      assert.equal((await ds.page(0, 50)).length, 50, 'indexed pages are served while held');
      release();
      await ds.complete;
      assert.ok(ds.count() > held, `${ds.count()} samples after the release, ${held} while held`);
    } finally { await ds.close(); }
  });

  it('close() ends a pause that is never released', async () => {
    const ds = await openVgRegions(await generated(), { chunkBytes: 64 << 10 });
    await ds.page(0, 10);
    ds.pauseIndexing!(new Promise(() => undefined));
    await ds.close();
    await ds.complete;
  });
});

describe('AMC VG streaming index on a generated file', function () {
  this.timeout(60_000);

  it('equals JSON.parse of the whole file: one sample per (entry, caption), all boxes', async () => {
    mkdirSync(WORK, { recursive: true });
    const file = path.join(WORK, 'amc_generated.json');
    let seed = 11;
    const random = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    const entries = Array.from({ length: 20_000 }, (_, i) => {
      const caption = random() < 0.3
        ? Array.from({ length: Math.floor(random() * 4) }, (_, c) => `caption ${c} of "entry" ${i} \\ [x]`)
        : `single caption {${i}} \u00e9`;
      const bbox = Array.from({ length: Math.floor(random() * 3) },
        () => [random() * 100, random() * 100, 100 + random() * 100, 100 + random() * 100]);
      return { image: `VG_100K/${i}.jpg`, caption, bbox };
    });
    writeFileSync(file, JSON.stringify(entries, null, random() < 2 ? 1 : 0));
    const ds = await openAmcVg(file, { imageRoot: '/vg' });
    await ds.complete;
    const samples = await ds.page(0, ds.count() + 1);
    let k = 0;
    entries.forEach((e, i) => {
      const captions = Array.isArray(e.caption) ? e.caption : [e.caption];
      captions.forEach((c) => {
        const s = samples[k++];
        assert.equal(s.phrase, c, `entry ${i}`);
        assert.deepEqual(s.boxes, e.bbox);
        assert.equal(s.image, path.join('/vg', e.image));
      });
    });
    assert.equal(k, samples.length);
    // entries with an empty caption list yield no sample and a warning
    const empty = entries.filter((e) => Array.isArray(e.caption) && e.caption.length === 0).length;
    assert.ok(empty > 0);
    assert.equal(ds.problems().filter((p) => p.code === 'empty-caption-list').length, empty);
    await ds.close();
  });
});

describe('closing and aborting a large index', function () {
  this.timeout(60_000);
  const file = path.join(WORK, 'gen-2000', 'region_descriptions.json');
  before(() => generated());

  it('close() stops indexing: complete resolves, later pages are refused', async () => {
    const ds = await openVgRegions(file, { chunkBytes: 64 << 10 });
    await ds.page(0, 10);
    await ds.close();
    await ds.complete; // resolves: closing is not a failure
    assert.ok(ds.count() < 99_127);
    await assert.rejects(ds.page(0, 1), /the dataset was closed/);
  });

  it('an abort signal stops indexing and rejects complete, naming the file', async () => {
    const controller = new AbortController();
    const ds = await openVgRegions(file, { chunkBytes: 64 << 10, signal: controller.signal });
    await ds.page(0, 10);
    controller.abort();
    await assert.rejects(ds.complete, (err: Error) => err.message.startsWith(`${file}: indexing aborted`));
    await ds.close();
  });
});
