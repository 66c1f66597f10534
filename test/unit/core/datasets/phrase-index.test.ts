// The phrase index the byte-scan readers (VG, AMC VG) fill while indexing (OpenOptions.phraseIndex): row for row the
// phrases their pages serve, bad entries skipped in step, a file readable in part indexed up to where it stops.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { openDataset } from '../../../../src/core/datasets/index';
import type { Dataset } from '../../../../src/core/datasets/dataset';
import { searchForm } from '../../../../src/core/phraseIndex';

const DATASETS = path.join(__dirname, '..', '..', '..', 'fixtures', 'datasets');

/** Every needle a phrase of the file contains (its words and a few pieces), plus one it does not. */
async function checkAgainstPages(ds: Dataset): Promise<void> {
  await ds.complete.catch(() => undefined);
  const index = ds.phraseIndex?.();
  assert.ok(index, `${ds.file}: the reader built a phrase index`);
  assert.equal(index.complete, true);
  const samples = await ds.page(0, ds.count());
  const needles = new Set(['zzz-not-there', '']);
  for (const s of samples) for (const w of s.phrase.split(/\s+/)) if (w) needles.add(w.toUpperCase());
  for (const needle of needles) {
    for (const split of [null, ...ds.splits(), '']) {
      const expected = samples.filter((s) => (split === null || (s.split ?? '') === split) && searchForm(s.phrase).includes(searchForm(needle)))
        .map((s) => s.index);
      assert.deepEqual(index.matches(needle, split, () => true, 0, ds.count()), expected, `${path.basename(ds.file)}: ${needle} in ${split}`);
    }
  }
}

describe('phrase index built while indexing (issue 14 item 4)', () => {
  const files = [
    'vg/region_descriptions.json', 'vg/amc_vg.json', 'bad/vg_missing_phrase.json', 'bad/vg_no_image_id.json', 'bad/vg_nan_box.json',
    'bad/amc_vg_bad_caption.json', 'bad/amc_vg_nan_box.json', 'bad/vg_truncated.json', 'bad/amc_vg_truncated.json',
  ];
  for (const file of files) {
    it(`${file}: the same rows as the served phrases`, async () => {
      // Small chunks: entries cross chunk boundaries and bad image entries are dropped after their regions were indexed.
      const ds = await openDataset(path.join(DATASETS, file), { phraseIndex: true, chunkBytes: 64 } as never);
      try { await checkAgainstPages(ds); } finally { await ds.close(); }
    });
  }

  it('not built unless asked (the CLI does not need it)', async () => {
    const ds = await openDataset(path.join(DATASETS, 'vg/region_descriptions.json'));
    await ds.complete;
    assert.equal(ds.phraseIndex?.(), undefined);
    await ds.close();
  });
});
