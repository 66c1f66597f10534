// The viewer's "Evaluate pointing game" (a real ViewerSession on the tiny test model): samples that cannot be
// scored are counted and grouped by reason in the summary beside the accuracy, as `amc eval` does.
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import type { Sample } from '../../../src/core/types';
import { MemoryDataset } from '../../../src/editor/memoryDataset';
import { MetricStore } from '../../../src/editor/metricStore';
import { ViewerSession } from '../../../src/editor/viewerSession';
import { InferenceEngine } from '../../../src/model/engine';

const TINY = path.join(__dirname, '..', '..', 'fixtures', 'model', 'tiny');

function sample(index: number, image: string): Sample {
  return {
    index, id: `s${index}`, image, imageId: String(index), phrase: 'the red circle', caption: 'the red circle', boxes: [[10, 10, 60, 60]],
    sourceBoxes: [[10, 10, 60, 60]], hitRule: 'xyxy', split: 'test', ids: {}, source: { file: '/d.json', entry: `[${index}]` },
  };
}

describe('viewer evaluation: not-scored samples are counted by reason', function () {
  this.timeout(60_000);
  let tmp: string;
  let engine: InferenceEngine;
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'amc-viewer-ns-'));
    engine = await InferenceEngine.open(TINY, { provider: 'cpu' });
  });
  after(async () => { await engine?.dispose(); rmSync(tmp, { recursive: true, force: true }); });

  it('summary.notScored groups the errors; the scored count stays beside the accuracy', async () => {
    const good = path.join(tmp, 'good.png');
    await sharp({ create: { width: 80, height: 80, channels: 3, background: '#c02020' } }).png().toFile(good);
    const samples = [sample(0, good), sample(1, path.join(tmp, 'gone1.png')), sample(2, '/dev/zero'), sample(3, path.join(tmp, 'gone2.png')), sample(4, good)];
    const store = new MetricStore();
    const session = new ViewerSession({
      mode: 'dataset', title: 'd', dataset: new MemoryDataset('/d.json', 'amc-vg', samples),
      getExplainer: async () => ({ modelKey: 'tiny', info: { name: engine.card.name, provider: engine.provider, grid: engine.card.grid, dir: engine.modelDir }, engine }),
      metricStoreFor: () => store, imageUri: () => undefined, imageProblem: async () => undefined,
      savePng: async () => null, colormap: 'jet', post: () => undefined,
    });
    try {
      const summary = await session.evaluate(() => undefined, new AbortController().signal, 2);
      assert.equal(summary.errors, 3);
      assert.deepEqual(summary.notScored, [{ reason: 'image not found', count: 2 }, { reason: 'image is a character device', count: 1 }]);
      assert.equal(summary.bySplit.find((a) => a.split === 'all')!.total, 2);
      assert.match(store.error(2)!, /\/dev\/zero: the image is a character device/);
      assert.equal(store.errorReason(2), 'image is a character device');
    } finally {
      session.dispose();
    }
  });
});
