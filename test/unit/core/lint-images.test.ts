// Issue 12 item 5 (lint): boxes outside the image are reported when the format carries no image size (the size
// comes from the image header), and images that exist but cannot be decoded, or are not regular files, are reported.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { openDataset } from '../../../src/core/datasets/index';
import { readImageHeader } from '../../../src/core/imageHeader';
import { lintDataset } from '../../../src/core/lint';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'datasets');

describe('core/imageHeader: image size without decoding', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(tmpdir(), 'amc-header-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const format of ['png', 'jpeg', 'gif', 'webp'] as const) {
    it(`${format}: the same size as sharp's metadata`, async () => {
      const file = path.join(dir, `a.${format}`);
      await sharp({ create: { width: 37, height: 23, channels: 3, background: '#336699' } }).toFormat(format).toFile(file);
      assert.deepEqual(await readImageHeader(file), { width: 37, height: 23, format: format === 'jpeg' ? 'JPEG' : format === 'webp' ? 'WebP' : format.toUpperCase() });
    });
  }

  it('a JPEG with EXIF before its frame header, and every JPEG fixture, as sharp reads them', async () => {
    const file = path.join(dir, 'exif.jpg');
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#000' } }).withMetadata({ exif: { IFD0: { Copyright: 'x'.repeat(3000) } } }).jpeg().toFile(file);
    assert.deepEqual(await readImageHeader(file), { width: 64, height: 48, format: 'JPEG' });
    const folder = path.join(FIXTURES, 'vg', 'VG_100K');
    for (const name of readdirSync(folder).filter((n) => /\.jpe?g$/.test(n))) {
      const meta = await sharp(path.join(folder, name)).metadata();
      assert.deepEqual(await readImageHeader(path.join(folder, name)), { width: meta.width, height: meta.height, format: 'JPEG' }, name);
    }
  });

  it('a truncated JPEG, a text file and an empty file: an error saying why', async () => {
    const jpg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).withMetadata({ exif: { IFD0: { Copyright: 'y'.repeat(500) } } }).jpeg().toBuffer();
    writeFileSync(path.join(dir, 'cut.jpg'), jpg.subarray(0, 30));
    writeFileSync(path.join(dir, 'text.jpg'), 'not an image at all');
    writeFileSync(path.join(dir, 'empty.jpg'), '');
    assert.match((await readImageHeader(path.join(dir, 'cut.jpg')) as { error: string }).error, /JPEG ends at byte \d+ before its frame header/);
    assert.match((await readImageHeader(path.join(dir, 'text.jpg')) as { error: string }).error, /not a PNG, JPEG, GIF, BMP or WebP image/);
    assert.match((await readImageHeader(path.join(dir, 'empty.jpg')) as { error: string }).error, /empty/);
  });
});

describe('lint: image checks (issue 12 item 5)', function () {
  this.timeout(20_000);
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'amc-lint-img-'));
    mkdirSync(path.join(dir, 'img'));
    await sharp({ create: { width: 40, height: 30, channels: 3, background: '#808080' } }).png().toFile(path.join(dir, 'img', 'a.png'));
    writeFileSync(path.join(dir, 'img', 'broken.jpg'), Buffer.from('\xff\xd8\xff\xe0 this is not really a jpeg', 'latin1'));
    execFileSync('mkfifo', [path.join(dir, 'img', 'pipe.jpg')]);
    symlinkSync('/dev/zero', path.join(dir, 'img', 'zero.jpg'));
    // AMC VG JSON carries no image size: the boxes are checked against the PNG's header (40x30).
    writeFileSync(path.join(dir, 'amc.json'), JSON.stringify([
      { image: 'img/a.png', caption: 'inside', bbox: [[1, 1, 20, 20]] },
      { image: 'img/a.png', caption: 'reaches out', bbox: [[30, 10, 60, 20]] },
      { image: 'img/a.png', caption: 'far away', bbox: [[100, 100, 120, 120]] },
      { image: 'img/broken.jpg', caption: 'broken image', bbox: [[1, 1, 2, 2]] },
      { image: 'img/pipe.jpg', caption: 'a fifo', bbox: [[1, 1, 2, 2]] },
      { image: 'img/zero.jpg', caption: 'a device', bbox: [[1, 1, 2, 2]] },
      { image: 'img/gone.jpg', caption: 'missing', bbox: [[1, 1, 2, 2]] },
    ]));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('boxes outside the image from the header size; undecodable, non-regular and missing images, each named', async () => {
    const ds = await openDataset(path.join(dir, 'amc.json'));
    const t0 = Date.now();
    const report = await lintDataset(ds);
    await ds.close();
    assert.ok(Date.now() - t0 < 1000, 'the FIFO and /dev/zero are refused at once');
    const found = report.problems.map((p) => `${p.code} ${p.location.entry}`).sort();
    assert.deepEqual(found, [
      'box-outside-image entry [1]',
      'box-outside-image entry [2]',
      'missing-image entry [6]',
      'undecodable-image entry [3]',
      'unreadable-image entry [4]',
      'unreadable-image entry [5]',
    ]);
    const byEntry = new Map(report.problems.map((p) => [`${p.code} ${p.location.entry}`, p.message]));
    assert.match(byEntry.get('box-outside-image entry [1]')!, /reaches outside the 40x30 image/);
    assert.match(byEntry.get('undecodable-image entry [3]')!, /broken\.jpg cannot be decoded: JPEG/);
    assert.match(byEntry.get('unreadable-image entry [4]')!, /pipe\.jpg: the image is a FIFO/);
    assert.match(byEntry.get('unreadable-image entry [5]')!, /zero\.jpg: the image is a character device/);
  });

  it('image problems come in the order the images first occur, whatever order their checks finish in', async () => {
    const file = path.join(dir, 'order.json');
    writeFileSync(file, JSON.stringify(Array.from({ length: 10 }, (_, i) => ({ image: `img/n${i}.jpg`, caption: `c${i}`, bbox: [[1, 1, 2, 2]] }))));
    const ds = await openDataset(file);
    // The first image's check finishes last.
    const report = await lintDataset(ds, { imageSize: async (f) => {
      const i = Number(/n(\d)\.jpg$/.exec(f)![1]);
      await new Promise((resolve) => setTimeout(resolve, 5 * (10 - i)));
      return { error: 'not decodable here' };
    } });
    await ds.close();
    assert.deepEqual(report.problems.map((p) => path.basename(/image file (\S+)/.exec(p.message)![1])),
      Array.from({ length: 10 }, (_, i) => `n${i}.jpg`));
  });

  it('an image-size function passed in by the host (e.g. sharp metadata) is used instead of the header parser', async () => {
    const ds = await openDataset(path.join(dir, 'amc.json'));
    const report = await lintDataset(ds, { imageSize: async () => ({ width: 1000, height: 1000, format: 'test' }) });
    await ds.close();
    assert.deepEqual(report.problems.map((p) => p.code), []);
  });
});
