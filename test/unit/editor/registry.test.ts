// Issue 17 item 1: the one ViewerRegistry src/extension.ts creates. It fires events instead of being polled:
// "AMC: Evaluate pointing game" awaits onDidOpenViewer for the editor it opened, with a timeout that names the file.
import * as assert from 'node:assert/strict';
import { ViewerRegistry, type LiveViewer } from '../../../src/editor/registry';
import type { ViewerSession } from '../../../src/editor/viewerSession';

function viewer(file: string, extra: Partial<LiveViewer> = {}): LiveViewer & { active: boolean } {
  return { kind: 'dataset', file, session: undefined, active: false, ...extra };
}

describe('ViewerRegistry (issue 17 item 1)', () => {
  it('fires open, active and close events; viewerFor prefers the active viewer, then the last focused', () => {
    const registry = new ViewerRegistry();
    const events: string[] = [];
    registry.onDidOpenViewer((v) => events.push(`open ${v.file}`));
    registry.onDidCloseViewer((v) => events.push(`close ${v.file}`));
    registry.onDidChangeActiveViewer((v) => events.push(`active ${v?.file ?? 'none'}`));
    const a = viewer('/d/a.json'), b = viewer('/d/b.json'), a2 = viewer('/d/a.json');
    const panel = registry.add({ kind: 'single', file: '/img.png', session: undefined });
    const ra = registry.add(a), rb = registry.add(b), ra2 = registry.add(a2);
    assert.deepEqual(events.splice(0), ['open /img.png', 'active /img.png', 'open /d/a.json', 'active /d/a.json', 'open /d/b.json',
      'active /d/b.json', 'open /d/a.json', 'active /d/a.json']);
    assert.equal(registry.viewerFor(), a2, 'the last focused dataset viewer');
    assert.equal(registry.viewerFor('/d/a.json'), a);
    a2.active = true;
    assert.equal(registry.viewerFor('/d/a.json'), a2, 'the active viewer of the file first');
    a2.active = false;
    registry.setActive(b);
    assert.equal(registry.viewerFor(), b);
    assert.equal(registry.viewerFor('/d/none.json'), undefined);
    assert.deepEqual(registry.datasetViewers().map((v) => v.file), ['/d/a.json', '/d/b.json', '/d/a.json'], 'the Explain panel is not a dataset viewer');
    events.length = 0;
    rb.dispose();
    rb.dispose();   // closing twice fires once
    assert.deepEqual(events, ['close /d/b.json', 'active none']);
    assert.equal(registry.viewerFor(), a2, 'no focused viewer left: the last one opened');
    ra.dispose(); ra2.dispose(); panel.dispose();
    assert.deepEqual(registry.all(), []);
    registry.dispose();
  });

  it('waitForViewer resolves on the open event, at once for an open viewer, and rejects after the timeout naming the file', async () => {
    const registry = new ViewerRegistry();
    const waiting = registry.waitForViewer('/d/late.json', 5_000);
    registry.add(viewer('/d/other.json'));
    registry.add({ kind: 'single', file: '/d/late.json', session: undefined });   // an Explain panel is not it
    const late = viewer('/d/late.json');
    setTimeout(() => registry.add(late), 20);
    assert.equal(await waiting, late);
    assert.equal(await registry.waitForViewer('/d/late.json', 1), late);
    const t0 = Date.now();
    await assert.rejects(registry.waitForViewer('/d/never.json', 50), /the viewer for \/d\/never\.json did not open within 50 ms/);
    assert.ok(Date.now() - t0 >= 45);
    registry.dispose();
  });

  it('states() (the amc.viewerState hook) lists the viewers with a session, with the missing-images banner', () => {
    const registry = new ViewerRegistry();
    const session = {
      dataset: { format: 'amc-vg', count: () => 3 }, metrics: { computedCount: 1, settledIndices: () => [0], isFromReport: () => false },
      missingImages: { image: '/d/images/1.jpg', noneFound: true, canChoose: true },
    } as unknown as ViewerSession;
    registry.add(viewer('/d/failed.json', { openError: 'not JSON' }));
    registry.add(viewer('/d/a.json', { session, localResourceRoots: () => ['/d'] }));
    const [state, ...rest] = registry.states();
    assert.deepEqual(rest, []);
    assert.equal(state.file, '/d/a.json');
    assert.equal(state.count, 3);
    assert.equal(state.missingImage, '/d/images/1.jpg');
    assert.deepEqual(state.localResourceRoots, ['/d']);
    registry.dispose();
  });
});
