// Issue 12 item 5: the viewer's Problems panel shows what `amc lint` finds for the WHOLE file (the host computes it with
// computeProblemsPanel, which runs the same lintDataset routine as the CLI), in the background, capped per file.
// Each test compares the panel with the CLI's own output (src/cli/commands/lint.ts run in-process, --json).
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { run as lintCli } from '../../../src/cli/commands/lint';
import { openDataset } from '../../../src/core/datasets/index';
import { computeProblemsPanel, lintStartGate, panelCounts, type PanelResult } from '../../../src/editor/problemsPanel';

const ROOT = path.join(__dirname, '..', '..', '..');
const DATASETS = path.join(ROOT, 'test', 'fixtures', 'datasets');

interface CliProblem { severity: string; code: string; message: string; file: string; entry: string }

/** `amc lint FILE --json`: the problems it prints, its summary line and exit code. */
async function cliLint(file: string): Promise<{ problems: CliProblem[]; summary: string; code: number }> {
  let out = '';
  const err: string[] = [];
  let code: number;
  try {
    code = await lintCli([file, '--json'], { out: async (t) => { out += t; }, err: (t) => { err.push(t); } });
  } catch (e) {
    return { problems: [], summary: (e as Error).message, code: 2 };
  }
  return { problems: out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as CliProblem), summary: err.join('\n'), code };
}

const key = (p: { severity: string; code: string; file: string; entry: string; message: string }) => `${p.severity} ${p.code} ${p.file} ${p.entry} ${p.message}`;

/** The panel equals the CLI: the same problems under the panel, and the panel (entries + "… and N more") counts equal. */
function assertSameAsCli(panel: PanelResult, cli: { problems: CliProblem[] }, what: string): void {
  const fromPanel = panel.report.problems.map((p) => key({ ...p.location, severity: p.severity, code: p.code, message: p.message })).sort();
  assert.deepEqual(fromPanel, cli.problems.map(key).sort(), `${what}: the panel's problems are amc lint's`);
  const counts = panelCounts(panel);
  assert.equal(counts.errors, cli.problems.filter((p) => p.severity === 'error').length, `${what}: errors`);
  assert.equal(counts.warnings, cli.problems.filter((p) => p.severity === 'warning').length, `${what}: warnings`);
}

describe('viewer Problems panel = amc lint, whole file (issue 12 item 5)', function () {
  this.timeout(60_000);

  const fixtures = [
    'vg/region_descriptions.json', 'vg/amc_vg.json', 'vg/problems/region_descriptions.json', 'vg/problems/amc_vg.json',
    'flickr/flickr30k_entities/val.txt', 'flickr/flickr30k_entities/test.txt', 'flickr/infoground/sentences_val.json',
    'flickr/infoground/bounding_boxes_test.json', 'refcoco/refcoco+/refs(unc).p', 'refcoco/refcoco+_val.json',
    'refcoco/albef/refcoco+_test_new_path.json',
    'bad/vg_nan_box.json', 'bad/vg_null_box.json', 'bad/vg_string_box.json', 'bad/vg_missing_phrase.json', 'bad/vg_no_image_id.json',
    'bad/vg_truncated.json', 'bad/amc_vg_nan_box.json', 'bad/amc_vg_bad_caption.json', 'bad/amc_vg_truncated.json',
  ];
  for (const rel of fixtures) {
    it(`${rel}: the panel's counts equal amc lint's`, async () => {
      const file = path.join(DATASETS, rel);
      const cli = await cliLint(file);
      assert.notEqual(cli.code, 2, cli.summary);
      const ds = await openDataset(file);
      try {
        assertSameAsCli(await computeProblemsPanel(ds), cli, rel);
      } finally { await ds.close(); }
    });
  }

  it('the bad fixtures: the CLI summary counts the skipped entries ("N samples, 1 bad entry skipped")', async () => {
    assert.match((await cliLint(path.join(DATASETS, 'bad', 'vg_missing_phrase.json'))).summary, /^1 samples, 1 bad entry skipped: \d+ error\(s\), 0 warning\(s\)$/);
  });

  describe('a file with problems after the first 200 samples', () => {
    let dir: string;
    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'amc-panel-'));
      mkdirSync(path.join(dir, 'VG_100K'));
      // 100 images of 10 regions; 19 boxes reach outside their image, spread over the file; the last 5 images are missing.
      const images = [];
      const sizes = [];
      let regionId = 1;
      for (let img = 1; img <= 100; img++) {
        const regions = [];
        for (let r = 0; r < 10; r++) {
          const outside = regionId % 52 === 0;
          regions.push({ region_id: regionId++, width: outside ? 90 : 10, height: 10, image_id: img, phrase: `thing ${regionId}`, y: 5, x: 5 });
        }
        images.push({ regions, id: img });
        sizes.push({ image_id: img, width: 64, height: 48, url: `https://x/VG_100K/${img}.jpg` });
        if (img <= 95) await sharp({ create: { width: 64, height: 48, channels: 3, background: '#000' } }).jpeg().toFile(path.join(dir, 'VG_100K', `${img}.jpg`));
      }
      writeFileSync(path.join(dir, 'region_descriptions.json'), JSON.stringify(images));
      writeFileSync(path.join(dir, 'image_data.json'), JSON.stringify(sizes));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('all 19 out-of-image boxes and the 5 missing images at the end are in the panel', async () => {
      const file = path.join(dir, 'region_descriptions.json');
      const cli = await cliLint(file);
      const ds = await openDataset(file);
      try {
        // What the viewer published before: the reader's problems after the first page of 200 samples.
        await ds.page(0, 200);
        await ds.complete;
        const before = ds.problems().filter((p) => p.code === 'box-outside-image').length;
        const panel = await computeProblemsPanel(ds);
        assertSameAsCli(panel, cli, 'generated');
        const codes = panel.report.problems.map((p) => p.code);
        assert.equal(codes.filter((c) => c === 'box-outside-image').length, 19);
        assert.equal(codes.filter((c) => c === 'missing-image').length, 5);
        assert.ok(before < 19, `the first 200 samples hold only ${before} of them`);
      } finally { await ds.close(); }
    });

    it('capped per file: the first entries, then one "… and N more (run amc lint)" entry; counts still equal', async () => {
      const file = path.join(dir, 'region_descriptions.json');
      const cli = await cliLint(file);
      const ds = await openDataset(file);
      try {
        const panel = await computeProblemsPanel(ds, { cap: 7 });
        assert.equal(panel.files.length, 1);
        const entries = panel.files[0].entries;
        assert.equal(entries.length, 8);
        assert.equal(entries[7].code, 'more');
        assert.match(entries[7].message, /^… and 17 more \(\d+ error\(s\), \d+ warning\(s\)\): run amc lint /);
        assert.ok(entries.slice(0, 5).every((e) => e.severity === 'error'), 'errors (missing images) before warnings');
        assertSameAsCli(panel, cli, 'capped');
      } finally { await ds.close(); }
    });

    it('the viewer\'s lint reads no page before the index is complete and the first explanation was shown (bench/open-gradcam)',
      async () => {
        const cli = await cliLint(path.join(dir, 'region_descriptions.json'));
        const real = await openDataset(path.join(dir, 'region_descriptions.json'));
        try {
          let indexed!: () => void, shown!: () => void;
          const complete = new Promise<void>((resolve) => { indexed = resolve; });
          const firstShown = new Promise<void>((resolve) => { shown = resolve; });
          const pages: number[] = [];
          // The real dataset, with `complete` held back and its page reads recorded.
          const ds = Object.create(real, {
            complete: { value: complete },
            page: { value: (start: number, limit: number) => { pages.push(start); return real.page(start, limit); } },
          }) as typeof real;
          const events: string[] = [];
          const running = computeProblemsPanel(ds, { startAfter: lintStartGate(complete, firstShown, 60_000) })
            .then((panel) => { events.push('linted'); return panel; });
          await new Promise((resolve) => setTimeout(resolve, 100));
          assert.deepEqual(pages, [], 'no page read while the file is indexed and nothing is shown');
          events.push('shown');
          shown();
          await new Promise((resolve) => setTimeout(resolve, 100));
          assert.deepEqual(pages, [], 'no page read before the index is complete');
          events.push('complete');
          indexed();
          const panel = await running;
          assert.deepEqual(events, ['shown', 'complete', 'linted']);
          assertSameAsCli(panel, cli, 'gated');
          // Nothing shown: the lint still starts once the file is indexed and the fallback delay has passed.
          const t0 = Date.now();
          await computeProblemsPanel(real, { startAfter: lintStartGate(real.complete, new Promise(() => undefined), 150) });
          assert.ok(Date.now() - t0 >= 140, 'waited for the fallback delay');
        } finally { await real.close(); }
      });

    it('runs in the background: the event loop keeps turning, and an abort stops it', async () => {
      const ds = await openDataset(path.join(dir, 'region_descriptions.json'));
      try {
        let ticks = 0;
        const timer = setInterval(() => { ticks++; }, 1);
        await computeProblemsPanel(ds, { pageSize: 50 });
        clearInterval(timer);
        assert.ok(ticks >= 3, `timers ran ${ticks} times while the whole file was linted`);
        const abort = new AbortController();
        const running = computeProblemsPanel(ds, { pageSize: 50, signal: abort.signal });
        abort.abort();
        await assert.rejects(running, /aborted|cancelled/);
      } finally { await ds.close(); }
    });
  });

  it('a generated 1 M-region VG file: the panel (capped at 1000) counts what amc lint counts', async function () {
    this.timeout(120_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'amc-panel-big-'));
    try {
      const t0 = Date.now();
      const { generate } = await import('../../../bench/open-vg/generate.mjs'); // plain .mjs, typed by generate.d.mts
      const { file, regions } = await generate(dir, { images: 21_000, meanRegions: 50, seed: 7 });
      assert.ok(regions > 1_000_000, `${regions} regions`);
      const t1 = Date.now();
      const cli = await cliLint(file);
      const t2 = Date.now();
      const ds = await openDataset(file);
      try {
        const panel = await computeProblemsPanel(ds);
        const t3 = Date.now();
        assertSameAsCli(panel, cli, 'generated VG');
        assert.equal(panel.report.samples, regions);
        assert.equal(panel.files[0].entries.length, 1001, 'capped: 1000 entries + "… and N more"');
        assert.match(panel.files[0].entries[1000].message, /^… and 20,000 more/);
        console.log(`      ${regions} regions: generate ${t1 - t0} ms, amc lint ${t2 - t1} ms, panel ${t3 - t2} ms`);
      } finally { await ds.close(); }
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
