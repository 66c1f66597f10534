// Issue 14 item 6 in real Chromium: when a file's images are not found the viewer says so in a banner that stays
// (role "status", themed, keyboard reachable) with "Choose image folder…", which asks the host (chooseImageFolder);
// once the host has the images again (event missingImages: null) the banner goes. The host side (the folder saved,
// every viewer of the file reloaded) is test/vscode/suite/editor.test.ts "Choose image folder".
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { openDataset } from '../../src/core/datasets/index';
import type { Explainer } from '../../src/editor/explainer';
import { InferenceEngine } from '../../src/model/engine';
import type { MissingImages } from '../../src/shared/protocol';
import { writeSceneDataset, type SceneFixture } from './fixtures';
import { closeBrowser, ROOT, TestViewer } from './host';

const TINY_MODEL = path.join(ROOT, 'test', 'fixtures', 'model', 'tiny');

let fixture: SceneFixture;
let engine: InferenceEngine;
let explainer: Explainer;

async function bannerState(viewer: TestViewer): Promise<{ visible: boolean; text: string; role: string | null; border: string }> {
  return viewer.page.$eval('.images-banner', (b) => ({
    visible: (b as HTMLElement).offsetHeight > 0, text: b.textContent ?? '', role: b.getAttribute('role'), border: getComputedStyle(b).borderTopColor,
  }));
}

describe('viewer: images that live elsewhere (issue 14 item 6)', () => {
  before(async function () {
    this.timeout(60_000);
    fixture = await writeSceneDataset();
    engine = await InferenceEngine.open(TINY_MODEL, { provider: 'cpu' });
    explainer = {
      modelKey: `${engine.modelDir}#${engine.card.files.grounding.sha256}`, info: { name: engine.card.name, provider: engine.provider, grid: engine.card.grid }, engine,
    };
  });

  after(async () => {
    await engine?.dispose();
    await closeBrowser();
  });

  it('a persistent banner says the images were not found; "Choose image folder…" asks the host; it goes once they are found', async () => {
    // What the editor's AnnotationDocument reports for a file whose images are elsewhere, and its "Choose image folder…".
    let missing: Omit<MissingImages, 'canChoose'> | undefined = { image: '/elsewhere/images/scene0.png', noneFound: true };
    let asked = 0;
    const dataset = await openDataset(fixture.file);
    const viewer = await TestViewer.open({
      dataset, explainer: async () => explainer, imageRoots: [fixture.dir], theme: 'light',
      missingImages: () => missing, chooseImageFolder: async () => { asked++; return '/data/images'; },
    });
    try {
      await viewer.page.waitForSelector('.images-banner:not([hidden])', { timeout: 20_000 });
      let b = await bannerState(viewer);
      assert.equal(b.role, 'status');
      assert.match(b.text, /The images of vg_scenes\.json were not found \(the first is expected at \/elsewhere\/images\/scene0\.png\)/);
      assert.match(b.text, /Choose the folder they are in, or set amc\.imageRoots/);
      assert.equal(b.border, 'rgb(184, 149, 0)', 'styled by the theme\'s --vscode-inputValidation-warningBorder');

      // It stays: 5 s later, and after moving to the next sample, it is still there (a notification would be gone).
      await viewer.page.waitForTimeout(5_000);
      await viewer.page.focus('.list-viewport');
      await viewer.page.keyboard.press('ArrowDown');
      await viewer.page.waitForFunction(() => document.querySelector('.detail-phrase')?.textContent === 'a red box on the left', null, { timeout: 20_000 });
      b = await bannerState(viewer);
      assert.ok(b.visible, 'the banner went away');

      // Keyboard: the button takes the focus and Enter sends the request.
      await viewer.page.focus('.images-banner vscode-button');
      assert.equal(await viewer.page.evaluate(() => document.activeElement?.closest('.images-banner') !== null), true);
      await viewer.page.keyboard.press('Enter');
      await viewer.page.waitForFunction(() => /Images are read from \/data\/images/.test(document.querySelector('.status-line')?.textContent ?? ''),
        null, { timeout: 10_000 });
      assert.equal(viewer.requests('chooseImageFolder').length, 1);
      assert.equal(asked, 1);
      assert.ok((await bannerState(viewer)).visible, 'the banner stays until the host has found the images');

      // The host reloaded the file with the chosen folder and found the images: the banner goes.
      missing = undefined;
      viewer.session!.missingImagesChanged();
      await viewer.page.waitForSelector('.images-banner', { state: 'hidden', timeout: 10_000 });
      assert.deepEqual(viewer.consoleErrors.filter((e) => !/Failed to load resource.*404/.test(e)), []);
    } finally {
      await viewer.close();
    }
  });

  it('no banner when the images are there; a host that cannot choose a folder names the setting instead', async () => {
    const dataset = await openDataset(fixture.file);
    const found = await TestViewer.open({ dataset, explainer: async () => explainer, imageRoots: [fixture.dir] });
    try {
      await found.page.waitForFunction(() => /samples/.test(document.querySelector('.status-line')?.textContent ?? ''), null, { timeout: 20_000 });
      assert.equal(await found.page.$eval('.images-banner', (b) => (b as HTMLElement).hidden), true);
    } finally { await found.close(); }
    const settingOnly = await TestViewer.open({
      dataset: await openDataset(fixture.file), explainer: async () => explainer, imageRoots: [fixture.dir],
      missingImages: () => ({ image: '/elsewhere/scene0.png', noneFound: false }),
    });
    try {
      await settingOnly.page.waitForSelector('.images-banner:not([hidden])', { timeout: 20_000 });
      const b = await bannerState(settingOnly);
      assert.match(b.text, /An image of vg_scenes\.json was not found: \/elsewhere\/scene0\.png\. Set the folder they are in with amc\.imageRoots\./);
      assert.equal(await settingOnly.page.$eval('.images-banner vscode-button', (e) => (e as HTMLElement).hidden), true);
    } finally { await settingOnly.close(); }
  });
});
