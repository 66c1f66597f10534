// Issue 12 item 2 (side files): every file a dataset names — instances.json, image_data.json, Annotations/*.xml —
// and the annotation file itself is read only when it is a regular file. A FIFO (which blocked the old open
// forever), a directory or /dev/zero in its place is refused within a second with a message naming the file.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataset } from '../../../../src/core/datasets/index';
import { lintDataset } from '../../../../src/core/lint';

const FIXTURES = join(__dirname, '..', '..', '..', 'fixtures', 'datasets');

type Kind = 'fifo' | 'directory' | 'device';
const KINDS: Record<Kind, RegExp> = { fifo: /FIFO/, directory: /directory/, device: /character device/ };

function replaceWith(kind: Kind, target: string): void {
  rmSync(target, { force: true, recursive: true });
  if (kind === 'fifo') execFileSync('mkfifo', [target]);
  else if (kind === 'directory') mkdirSync(target);
  else symlinkSync('/dev/zero', target);
}

/** Settles `p` or fails after `ms` (a blocking read of a FIFO never settles). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  try { return await Promise.race([p, timeout]); } finally { clearTimeout(timer); }
}

describe('core/datasets: side files are read only when they are regular files (issue 12 item 2)', function () {
  this.timeout(10_000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'amc-side-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const kind of Object.keys(KINDS) as Kind[]) {
    it(`instances.json as a ${kind}: refused within a second, naming it`, async () => {
      cpSync(join(FIXTURES, 'refcoco', 'refcoco+'), join(dir, 'refcoco+'), { recursive: true });
      const instances = join(dir, 'refcoco+', 'instances.json');
      replaceWith(kind, instances);
      const t0 = Date.now();
      await assert.rejects(within(openDataset(join(dir, 'refcoco+', 'refs(unc).p')), 1000, 'open'), (err: Error) => {
        assert.ok(err.message.includes(instances), err.message);
        assert.match(err.message, KINDS[kind]);
        assert.match(err.message, /instances\.json is/);
        return true;
      });
      assert.ok(Date.now() - t0 < 1000);
    });

    it(`image_data.json as a ${kind}: refused within a second, naming it`, async () => {
      cpSync(join(FIXTURES, 'vg'), join(dir, 'vg'), { recursive: true });
      const imageData = join(dir, 'vg', 'image_data.json');
      replaceWith(kind, imageData);
      const t0 = Date.now();
      const ds = await within(openDataset(join(dir, 'vg', 'region_descriptions.json')), 1000, 'open');
      try {
        await assert.rejects(within(ds.page(0, 5), 1000, 'first page'), (err: Error) => {
          assert.ok(err.message.includes(imageData), err.message);
          assert.match(err.message, KINDS[kind]);
          return true;
        });
      } finally { await ds.close(); }
      assert.ok(Date.now() - t0 < 1000);
    });

    it(`an Annotations/*.xml as a ${kind}: that image is reported by name, the rest open`, async () => {
      cpSync(join(FIXTURES, 'flickr', 'flickr30k_entities'), join(dir, 'flickr30k_entities'), { recursive: true });
      const xml = join(dir, 'flickr30k_entities', 'Annotations', '1000092795.xml');
      replaceWith(kind, xml);
      const t0 = Date.now();
      const ds = await within(openDataset(join(dir, 'flickr30k_entities', 'val.txt')), 1000, 'open');
      try {
        await within(ds.complete, 1000, 'reading the split');
        const report = await lintDataset(ds, { checkImages: false });
        const named = report.problems.filter((p) => p.location.file === xml);
        assert.equal(named.length, 1, JSON.stringify(report.problems));
        assert.match(named[0].message, KINDS[kind]);
        assert.ok(ds.count() > 0, 'the other images of the split are read');
      } finally { await ds.close(); }
      assert.ok(Date.now() - t0 < 1000);
    });

    it(`the annotation file itself as a ${kind}: refused within a second`, async () => {
      const file = join(dir, 'region_descriptions.json');
      replaceWith(kind, file);
      const t0 = Date.now();
      await assert.rejects(within(openDataset(file, { format: 'vg-regions' }), 1000, 'open vg'), (err: Error) => err.message.includes(file) && KINDS[kind].test(err.message));
      await assert.rejects(within(openDataset(file), 1000, 'detect'), (err: Error) => err.message.includes(file) && (kind === 'directory' ? /folder/ : KINDS[kind]).test(err.message));
      assert.ok(Date.now() - t0 < 1000);
    });
  }

  it('a side file over the cap (OpenOptions.maxFileBytes) is refused, naming it and the limit', async () => {
    cpSync(join(FIXTURES, 'refcoco', 'refcoco+'), join(dir, 'refcoco+'), { recursive: true });
    await assert.rejects(openDataset(join(dir, 'refcoco+', 'refs(unc).p'), { maxFileBytes: 64 }), /refs pickle is .* over the .* limit/);
  });
});
