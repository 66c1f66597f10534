// Issue 12 item 5 in real Chromium: a file with bad entries or a truncated end opens in the viewer; a banner says how
// many entries were skipped (role="status") or where the file ends (role="alert"), and the sample count says it too.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { openDataset } from '../../src/core/datasets/index';
import { ROOT, TestViewer } from './host';

const BAD = path.join(ROOT, 'test', 'fixtures', 'datasets', 'bad');

async function openBad(name: string): Promise<TestViewer> {
  const dataset = await openDataset(path.join(BAD, name));
  return TestViewer.open({ dataset, explainer: async () => { throw new Error('no model in this test'); }, imageRoots: [BAD], theme: 'light' });
}

async function banner(viewer: TestViewer): Promise<{ text: string; role: string | null; kind: string | undefined }> {
  await viewer.page.waitForSelector('.read-banner:not([hidden])', { timeout: 10_000 });
  return viewer.page.$eval('.read-banner', (b) => ({ text: b.textContent ?? '', role: b.getAttribute('role'), kind: (b as HTMLElement).dataset.kind }));
}

describe('viewer: files read in part (issue 12 item 5)', () => {
  it('a bad entry: the readable sample is listed, the banner and the count say 1 bad entry was skipped', async () => {
    const viewer = await openBad('vg_missing_phrase.json');
    try {
      const b = await banner(viewer);
      assert.equal(b.role, 'status');
      assert.equal(b.kind, 'warning');
      assert.match(b.text, /1 bad entry was skipped \(each is listed in the Problems panel\)/);
      await viewer.page.waitForFunction(() => /1 samples, 1 bad entry skipped/.test(document.querySelector('.status-line')?.textContent ?? ''), null, { timeout: 10_000 });
      const rows = await viewer.page.$$eval('.list-rows .list-row:not([hidden])', (r) => r.map((x) => x.textContent ?? ''));
      assert.equal(rows.length, 1);
      assert.match(rows[0], /fine/);
      const css = await viewer.page.$eval('.read-banner', (b) => getComputedStyle(b).borderTopColor);
      assert.equal(css, 'rgb(184, 149, 0)', 'styled by the theme\'s --vscode-inputValidation-warningBorder');
    } finally { await viewer.close(); }
  });

  it('a truncated file: the entry before the cut is listed; an alert says where the file ends; no endless "reading…"', async () => {
    const viewer = await openBad('vg_truncated.json');
    try {
      const b = await banner(viewer);
      assert.equal(b.role, 'alert');
      assert.match(b.text, /can be read only in part: .*the file ends at byte 221 \(line 1, column 222\).*the 1 region before that point is shown/);
      await viewer.page.waitForFunction(() => /1 samples \(the file stops early\)/.test(document.querySelector('.status-line')?.textContent ?? ''), null, { timeout: 10_000 });
      const status = await viewer.page.$eval('.status-line', (s) => s.textContent ?? '');
      assert.doesNotMatch(status, /reading…/);
      const rows = await viewer.page.$$eval('.list-rows .list-row:not([hidden])', (r) => r.map((x) => x.textContent ?? ''));
      assert.equal(rows.length, 1);
      assert.match(rows[0], /fine/);
    } finally { await viewer.close(); }
  });
});

describe('viewer: a file that fails before its first sample', () => {
  it('says it could not be read, in the banner and the status line, instead of "reading…" forever', async () => {
    const dataset = await openDataset(path.join(BAD, 'not_json.txt'), { format: 'vg-regions' });
    const viewer = await TestViewer.open({ dataset, explainer: async () => { throw new Error('no model in this test'); }, imageRoots: [BAD] });
    try {
      await viewer.page.waitForFunction(() => /0 samples \(the file could not be read\)/.test(document.querySelector('.status-line')?.textContent ?? ''), null, { timeout: 10_000 });
      const banner = await viewer.page.$eval('.banner:not(.read-banner)', (b) => b.textContent ?? '');
      assert.match(banner, /Could not read the file: .*not_json\.txt \(byte 0\): expected a JSON list of images/);
    } finally { await viewer.close(); }
  });
});
