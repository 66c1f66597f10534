// Issue 17 item 2, the shared layer: what the webview may import, the protocol version check, the test-only hook
// behind its flag, and the one request/response mechanism (src/shared/rpc.ts) that both channels use.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { parseCommandArgs } from '../../../src/cli/options';
import { UsageError } from '../../../src/cli/command';
import { errorMessage } from '../../../src/core/errors';
import { renderWebviewHtml } from '../../../src/editor/html';
import { MemoryDataset } from '../../../src/editor/memoryDataset';
import { MetricStore } from '../../../src/editor/metricStore';
import { testHooksEnabled } from '../../../src/editor/testHooks';
import { ViewerSession } from '../../../src/editor/viewerSession';
import { PROTOCOL_VERSION, protocolMismatch, RemoteError, RequestClient, type HostToWebview } from '../../../src/shared/protocol';
import { RpcClient, RpcServer, type ErrorPayload } from '../../../src/shared/rpc';
import { importsOf, ROOT, tsFiles } from '../imports';


describe('shared layer (issue 17 item 2)', () => {
  it('the webview imports from src/ only src/shared and src/core, never src/editor', () => {
    const files = tsFiles(path.join(ROOT, 'webview'));
    assert.ok(files.length >= 5, 'webview sources not found');
    const bad: string[] = [];
    for (const file of files) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = path.relative(ROOT, path.resolve(path.dirname(file), spec));
        if (target.startsWith('src') && !/^src[\\/](shared|core)[\\/]/.test(target)) bad.push(`${path.relative(ROOT, file)}: ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('src/shared imports no vscode, no node module, nothing of the host or the webview', () => {
    const bad: string[] = [];
    for (const file of tsFiles(path.join(ROOT, 'src', 'shared'))) {
      for (const spec of importsOf(file)) {
        const target = spec.startsWith('.') ? path.relative(ROOT, path.resolve(path.dirname(file), spec)) : spec;
        if (!/^src[\\/](shared|core)[\\/]/.test(target)) bad.push(`${path.relative(ROOT, file)}: ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('the page carries the host’s protocol version; a mismatch is worded for the user', () => {
    const html = renderWebviewHtml({ cspSource: 'vscode-resource:', nonce: 'n', scriptUri: 's.js', styleUri: 's.css', title: 't' });
    assert.match(html, new RegExp(`<body data-protocol-version="${PROTOCOL_VERSION}">`));
    assert.equal(protocolMismatch(String(PROTOCOL_VERSION)), undefined);
    assert.equal(protocolMismatch(PROTOCOL_VERSION), undefined);
    assert.equal(protocolMismatch(3, 2), 'host and webview disagree: protocol v3 vs v2 — reload the window');
    assert.equal(protocolMismatch('1', 2), 'host and webview disagree: protocol v1 vs v2 — reload the window');
    assert.equal(protocolMismatch(undefined, 2), 'host and webview disagree: protocol v? vs v2 — reload the window');
  });

  it('reportShown (the test-only readback) is refused unless the test flag is on', async () => {
    const run = async (testHooks: boolean | undefined) => {
      let client!: RequestClient;
      const session = new ViewerSession({
        mode: 'dataset', title: 'd', dataset: new MemoryDataset('/d.json', 'amc-vg', []),
        getExplainer: async () => { throw new Error('no model'); },
        metricStoreFor: () => new MetricStore(), imageUri: () => undefined, imageProblem: async () => undefined,
        savePng: async () => null, colormap: 'jet', post: (m: HostToWebview) => client.receive(JSON.parse(JSON.stringify(m))), testHooks,
      });
      client = new RequestClient((m) => session.receive(JSON.parse(JSON.stringify(m))));
      const init = await client.request('ready', {});
      const shown = client.request('reportShown', { index: null, phrase: 'p', metrics: {}, image: 'none' });
      const result = await shown.then(() => 'accepted', (e: unknown) => (e instanceof RemoteError ? `${e.code}: ${e.message}` : String(e)));
      session.dispose();
      return { testHooks: init.testHooks, result, lastShown: session.lastShown?.phrase };
    };
    assert.deepEqual(await run(undefined), {
      testHooks: undefined, result: 'bad-request: reportShown is a test hook (on under the extension tests or AMC_TEST_HOOKS=1)', lastShown: undefined,
    });
    assert.deepEqual(await run(true), { testHooks: true, result: 'accepted', lastShown: 'p' });
  });

  it('test hooks are on in VS Code’s test mode or with AMC_TEST_HOOKS=1 only', () => {
    assert.equal(testHooksEnabled(1, {}), false);   // Production
    assert.equal(testHooksEnabled(2, {}), false);   // Development
    assert.equal(testHooksEnabled(3, {}), true);    // Test
    assert.equal(testHooksEnabled(1, { AMC_TEST_HOOKS: '1' }), true);
    assert.equal(testHooksEnabled(1, { AMC_TEST_HOOKS: '0' }), false);
  });
});

describe('one request/response mechanism (src/shared/rpc.ts)', () => {
  interface Methods {
    slow: { params: { ms: number }; result: string };
    fail: { params: Record<string, never>; result: null };
  }
  class NamedError extends Error { override name = 'ModelCardError'; }
  const wire = () => {
    let server!: RpcServer<Methods>;
    const client = new RpcClient<Methods>((m) => setImmediate(() => server.receive(m)), (e: ErrorPayload) => Object.assign(new Error(e.message), { name: e.name ?? 'Error', code: e.code }));
    server = new RpcServer<Methods>(['slow', 'fail'], {
      slow: ({ ms }, signal) => new Promise((resolve, reject) => {
        const t = setTimeout(() => resolve(`slept ${ms}`), ms);
        signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('stopped')); });
      }),
      fail: async () => { throw new NamedError('model.json: bad grid'); },
    }, (m) => setImmediate(() => client.receive(m)));
    return client;
  };

  it('answers with the result, the error with its name, or a cancellation named AbortError', async () => {
    const client = wire();
    assert.equal(await client.request('slow', { ms: 1 }), 'slept 1');
    await assert.rejects(client.request('fail', {}), (e: Error) => e.name === 'ModelCardError' && e.message === 'model.json: bad grid');
    const abort = new AbortController();
    const cancelled = client.request('slow', { ms: 10_000 }, abort.signal);
    setTimeout(() => abort.abort(), 5);
    await assert.rejects(cancelled, (e: Error & { code?: string }) => e.name === 'AbortError' && e.code === 'cancelled');
    await assert.rejects(client.request('slow', { ms: 1 }, abort.signal), (e: Error) => e.name === 'AbortError');
    assert.equal(client.pendingCount, 0);
  });

  it('rejectAll settles every waiting request (the worker died)', async () => {
    const client = new RpcClient<Methods>(() => undefined, (e) => new Error(e.message));
    const waiting = [client.request('slow', { ms: 1 }), client.request('fail', {})];
    client.rejectAll(() => new Error('inference worker exited (code 1)'));
    for (const w of waiting) await assert.rejects(w, /worker exited/);
    assert.equal(client.pendingCount, 0);
  });
});

describe('one CLI argument parser and one errorMessage (issue 17 item 4)', () => {
  it('parseCommandArgs: unknown options and bad values are UsageErrors; --threads -1 reaches the range check', () => {
    assert.throws(() => parseCommandArgs(['--foo'], { json: { type: 'boolean' } }), (e: unknown) => e instanceof UsageError && /Unknown option '--foo'/.test(e.message));
    assert.throws(() => parseCommandArgs(['x'], { json: { type: 'boolean' } }), UsageError);   // no positionals unless allowed
    const parsed = parseCommandArgs(['f.json', '--threads', '-1'], { threads: { type: 'string' } }, true);
    assert.deepEqual({ values: { ...parsed.values }, positionals: parsed.positionals }, { values: { threads: '-1' }, positionals: ['f.json'] });
    assert.throws(() => parseCommandArgs(['--limit', '-1'], { limit: { type: 'string' } }), UsageError); // not a range-checked option
  });

  it('errorMessage: an Error’s message, anything else as text', () => {
    assert.equal(errorMessage(new TypeError('bad')), 'bad');
    assert.equal(errorMessage('plain'), 'plain');
    assert.equal(errorMessage(42), '42');
    assert.equal(errorMessage(undefined), 'undefined');
  });
});
