// Opening a viewer: the session starts loading the model when it is created, so the engine starts while the webview
// boots instead of after the webview's first request (bench/open-gradcam measured the two running one after the
// other: webview boot, then engine start, then the first GradCAM). The first request takes that load: one load, not two.
import * as assert from 'node:assert/strict';
import type { Explainer } from '../../../src/editor/explainer';
import { MemoryDataset } from '../../../src/editor/memoryDataset';
import { MetricStore } from '../../../src/editor/metricStore';
import { ViewerSession } from '../../../src/editor/viewerSession';
import { RequestClient, type HostToWebview } from '../../../src/shared/protocol';

const EXPLAINER = { modelKey: 'm', info: { name: 'amc-test', provider: 'cpu', grid: 2 }, engine: {} as never } satisfies Explainer;

function open(getExplainer: () => Promise<Explainer>): { session: ViewerSession; client: RequestClient } {
  let client!: RequestClient;
  const session = new ViewerSession({
    mode: 'dataset', title: 'd', dataset: new MemoryDataset('/d.json', 'amc-vg', []), getExplainer,
    metricStoreFor: () => new MetricStore(), imageUri: () => undefined, imageProblem: async () => undefined,
    savePng: async () => null, colormap: 'jet', post: (m: HostToWebview) => client.receive(JSON.parse(JSON.stringify(m))),
  });
  client = new RequestClient((m) => session.receive(JSON.parse(JSON.stringify(m))));
  return { session, client };
}

describe('viewer session start', () => {
  it('starts loading the model when the session is created, before the webview asks; ready takes that load', async () => {
    let loads = 0;
    let finish!: (e: Explainer) => void;
    const { session, client } = open(() => { loads++; return new Promise<Explainer>((resolve) => { finish = resolve; }); });
    assert.equal(loads, 1, 'the model load did not start with the session');
    const ready = client.request('ready', {});
    finish(EXPLAINER);
    const init = await ready;
    assert.deepEqual(init.model, EXPLAINER.info);
    assert.equal(loads, 1, 'ready loaded the model a second time');
    session.dispose();
  });

  it('a model that fails to load: reported by ready (no unhandled rejection), loaded once', async () => {
    let loads = 0;
    const { session, client } = open(async () => { loads++; throw new Error('/models/x/model.json not found'); });
    await new Promise((r) => setTimeout(r, 10)); // the failed load settles before the webview asks
    const init = await client.request('ready', {});
    assert.deepEqual(init.model, { error: '/models/x/model.json not found' });
    assert.equal(loads, 1);
    session.dispose();
  });
});
