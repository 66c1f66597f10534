// The webview checks the protocol version the host gives it (issue 17 item 2): a page whose host speaks another
// version says so and sends no request; the same version opens normally.
import * as assert from 'node:assert/strict';
import { PROTOCOL_VERSION } from '../../src/shared/protocol';
import { closeBrowser, TestViewer } from './host';

describe('viewer webview: protocol version', () => {
  const viewers: TestViewer[] = [];
  afterEach(async () => { for (const v of viewers.splice(0)) await v.close(); });
  after(async () => { await closeBrowser(); });

  const open = async (protocolVersion: number) => {
    const viewer = await TestViewer.open({
      openError: '/data/x.json: not opened in this test', explainer: async () => { throw new Error('no model in this test'); },
      imageRoots: [], protocolVersion,
    });
    viewers.push(viewer);
    return viewer;
  };

  it('a host that speaks another protocol version gets a clear message and no request', async () => {
    const other = PROTOCOL_VERSION + 1;
    const viewer = await open(other);
    await viewer.page.waitForSelector('.banner[role="alert"]');
    assert.equal(await viewer.page.textContent('.banner'), `host and webview disagree: protocol v${other} vs v${PROTOCOL_VERSION} — reload the window`);
    assert.deepEqual(viewer.sent, [], 'the webview sent a request to a host it cannot understand');
    assert.deepEqual(viewer.consoleErrors.filter((e) => !/Failed to load resource.*404/.test(e)), [], 'the page logged errors'); // 404: favicon
  });

  it('the same protocol version opens normally (the webview asks the host for its state)', async () => {
    const viewer = await open(PROTOCOL_VERSION);
    await viewer.page.waitForSelector('.banner[role="alert"]');
    assert.match(await viewer.page.textContent('.banner') ?? '', /Could not open this file: .*not opened in this test/);
    assert.equal(viewer.requests('ready').length, 1);
  });
});
