// The viewer's host-side logic without VS Code or a browser: the message protocol's request/response pairing,
// list views (host-side sort/filter over millions of rows), the column metric store, the HTML shell's CSP,
// image roots, byte offsets → positions, and the session's answers to bad requests.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Sample } from '../../../src/core/types';
import { contentSecurityPolicy, renderWebviewHtml } from '../../../src/editor/html';
import { openDataset } from '../../../src/core/datasets/index';
import { ImageAccess, isInsideRoots, viewerImageRoots } from '../../../src/editor/imageRoots';
import { buildView, kthMissing } from '../../../src/editor/listView';
import { MemoryDataset } from '../../../src/editor/memoryDataset';
import { MetricStore } from '../../../src/editor/metricStore';
import { offsetsToPositions } from '../../../src/editor/positions';
import { ViewerSession } from '../../../src/editor/viewerSession';
import {
  DEFAULT_QUERY, RemoteError, RequestClient, RequestServer, type HostToWebview, type RequestHandlers, type ViewQuery, type WebviewToHost,
} from '../../../src/shared/protocol';

function sample(i: number, split = i % 2 ? 'val' : 'test', phrase = `phrase ${i}`): Sample {
  return {
    index: i, id: `s${i}`, image: `/img/${i}.jpg`, imageId: String(i), phrase, caption: phrase, boxes: [[0, 0, 4, 4]],
    sourceBoxes: [[0, 0, 4, 4]], hitRule: 'xyxy', split, ids: {}, source: { file: '/d.json', entry: `[${i}]` },
  };
}

/** A client and a server wired back to back, as the webview and the host are. */
function pair(handlers: Partial<RequestHandlers>) {
  const toHost: WebviewToHost[] = [];
  const toWebview: HostToWebview[] = [];
  let server!: RequestServer;
  const client = new RequestClient((m) => { toHost.push(m); server.receive(JSON.parse(JSON.stringify(m))); });
  server = new RequestServer(handlers as RequestHandlers, (m) => { toWebview.push(m); client.receive(JSON.parse(JSON.stringify(m))); });
  return { client, server, toHost, toWebview };
}

describe('viewer protocol', () => {
  it('answers every request exactly once, with the result or the thrown error', async () => {
    const { client, toWebview } = pair({
      getSample: async ({ index }) => { if (index < 0) throw new Error(`no sample ${index}`); return { index } as never; },
    });
    const ok = await client.request('getSample', { index: 3 });
    assert.deepEqual(ok, { index: 3 });
    await assert.rejects(client.request('getSample', { index: -1 }), (e: unknown) => e instanceof RemoteError && e.message === 'no sample -1' && e.code === 'failed');
    assert.equal(toWebview.filter((m) => m.kind === 'response').length, 2);
    assert.equal(client.pendingCount, 0);
  });

  it('rejects malformed messages with a bad-request answer naming the problem', () => {
    const answers: HostToWebview[] = [];
    const server = new RequestServer({} as RequestHandlers, (m) => answers.push(m));
    server.receive({ kind: 'request', id: 7, method: 'dropTables', params: {} });
    server.receive('not an object');
    server.receive({ kind: 'request', id: 8, method: 'getRows', params: null });
    assert.deepEqual(answers.map((a) => a.kind === 'response' && !a.ok && [a.id, a.error.code, a.error.message]), [
      [7, 'bad-request', 'unknown method "dropTables"'],
      [-1, 'bad-request', 'message is not an object'],
      [8, 'bad-request', 'getRows: params must be an object'],
    ]);
  });

  it('cancels a request: the handler sees the abort and the client gets a cancelled error', async () => {
    let sawAbort = false;
    const { client } = pair({
      explainSample: (_p, signal) => new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => { sawAbort = true; reject(new Error('stopped')); });
      }),
    });
    const abort = new AbortController();
    const pending = client.request('explainSample', { index: 1 }, abort.signal);
    abort.abort();
    await assert.rejects(pending, (e: unknown) => e instanceof RemoteError && e.code === 'cancelled');
    assert.equal(sawAbort, true);
  });

  it('delivers events to listeners by name', () => {
    const { client, server } = pair({});
    const seen: number[] = [];
    client.on('select', ({ index }) => seen.push(index));
    server.emit('select', { index: 5 });
    server.emit('rowsComputed', { rows: [], computedCount: 0 });
    assert.deepEqual(seen, [5]);
  });
});

describe('viewer list views', () => {
  it('kthMissing finds the k-th index not computed, like a linear scan', () => {
    const present = Int32Array.from([0, 1, 5, 6, 7, 20, 21, 100]);
    const set = new Set(present);
    const missing: number[] = [];
    for (let i = 0; missing.length < 200; i++) if (!set.has(i)) missing.push(i);
    for (let k = 0; k < 200; k++) assert.equal(kthMissing(present, k), missing[k], `k=${k}`);
  });

  const query = (q: Partial<ViewQuery>): ViewQuery => ({ ...DEFAULT_QUERY, ...q });

  it('sorts computed rows by a metric, uncomputed rows after them in dataset order', async () => {
    const ds = new MemoryDataset('/d.json', 'amc-vg', Array.from({ length: 10 }, (_, i) => sample(i)));
    const store = new MetricStore();
    store.set(7, { score: 1, lMean: 0.1, lMax: 0.9, hit: false }, 'val');
    store.set(2, { score: 2, lMean: 0.2, lMax: 0.3, hit: true }, 'test');
    store.set(4, { score: 3, lMean: 0.3, lMax: 0.9, hit: false }, 'test');   // ties 7 on lMax: dataset order
    store.setError(9, 'image missing');
    const view = await buildView(ds, store, query({ sortKey: 'lMax', sortDirection: 'desc' }), new AbortController().signal);
    const order = Array.from({ length: view.total() }, (_, p) => view.indexAt(p));
    assert.deepEqual(order, [4, 7, 2, 0, 1, 3, 5, 6, 8, 9]);
    const misses = await buildView(ds, store, query({ missesOnly: true }), new AbortController().signal);
    assert.deepEqual(Array.from({ length: misses.total() }, (_, p) => misses.indexAt(p)), [4, 7]);
    // Both say how many rows were not computed yet (10 rows: 3 computed, 1 error; issue 14 item 4).
    assert.equal(misses.uncomputed, 6);
    assert.equal(view.uncomputed, 6);
    const filtered = await buildView(ds, store, query({ missesOnly: true, split: 'test' }), new AbortController().signal);
    assert.equal(filtered.uncomputed, Array.from({ length: 10 }, (_, i) => sample(i)).filter((x) => x.split === 'test' && ![2, 4, 7, 9].includes(x.index)).length);
    assert.equal((await buildView(ds, store, query({ text: 'x' }), new AbortController().signal)).uncomputed, undefined, 'a plain filter has nothing to say');
  });

  it('filters by split and phrase text on the host, then sorts', async () => {
    const ds = new MemoryDataset('/d.json', 'amc-vg', Array.from({ length: 12 }, (_, i) => sample(i, i % 3 ? 'train' : 'val', i % 4 ? `a Red circle ${i}` : `blue ${i}`)));
    const store = new MetricStore();
    store.set(6, { score: 5, lMean: 0, lMax: 0, hit: true }, 'val');
    store.set(9, { score: 9, lMean: 0, lMax: 0, hit: true }, 'val');
    const view = await buildView(ds, store, query({ split: 'val', text: 'red', sortKey: 'score', sortDirection: 'desc' }), new AbortController().signal);
    assert.deepEqual(Array.from({ length: view.total() }, (_, p) => view.indexAt(p)), [9, 6, 3]);
  });

  it('pages a 5-million-row view without materialising it', async () => {
    const n = 5_000_000;
    const ds = new MemoryDataset('/huge.json', 'amc-vg', { count: n, at: (i) => sample(i), splits: ['test', 'val'] });
    const store = new MetricStore();
    store.set(4_999_999, { score: 0, lMean: 0, lMax: 2, hit: false }, 'val');
    store.set(10, { score: 0, lMean: 0, lMax: 1, hit: true }, 'test');
    const view = await buildView(ds, store, query({ sortKey: 'lMax', sortDirection: 'desc' }), new AbortController().signal);
    assert.equal(view.total(), n);
    assert.deepEqual([0, 1, 2, 11, 12, n - 1].map((p) => view.indexAt(p)), [4_999_999, 10, 0, 9, 11, 4_999_998]);
  });

  it('text filter on 5 million rows: the phrase index answers each query in under a second, like a linear scan (issue 14 item 4)', async function () {
    this.timeout(120_000);
    const n = 5_000_000;
    const words = ['red', 'blue', 'green', 'small', 'large', 'circle', 'square', 'star', 'left', 'right'];
    const phraseOf = (i: number) => `${words[i % 10]} ${words[(i >> 3) % 10]} É${i % 7}`;
    const ds = new MemoryDataset('/huge.json', 'amc-vg', { count: n, at: (i) => sample(i, i % 3 ? 'train' : 'val', phraseOf(i)), splits: ['train', 'val'] });
    const store = new MetricStore();
    const t0 = performance.now();
    let progress: { scanned: number; total: number; matches: number; from: number } | undefined;
    let reports = 0;
    const first = await buildView(ds, store, query({ text: 'Blue Star' }), new AbortController().signal, (p) => { progress = p; reports++; });
    const buildMs = performance.now() - t0;
    const expected = (needle: string, split: string | null) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) if (phraseOf(i).toLowerCase().includes(needle) && (split === null || (i % 3 ? 'train' : 'val') === split)) out.push(i);
      return out;
    };
    const indices = (v: { total(): number; indexAt(p: number): number }) => Array.from({ length: v.total() }, (_, p) => v.indexAt(p));
    assert.deepEqual(indices(first), expected('blue star', null));
    // While the index was built, the running match count was reported; the last report is the full count.
    assert.ok(reports > 100, `${reports} progress reports`);
    assert.deepEqual(progress, { scanned: n, total: n, matches: first.total(), from: 0 });
    let slowest = 0;
    for (const [text, split] of [['green', null], ['é3', 'val'], ['t r', null], ['star é6', 'train'], ['nothing like this', null]] as const) {
      const t = performance.now();
      const v = await buildView(ds, store, query({ text, split }), new AbortController().signal);
      const ms = performance.now() - t;
      assert.ok(ms < 1000, `“${text}” took ${ms.toFixed(0)} ms`);
      slowest = Math.max(slowest, ms);
      assert.deepEqual(indices(v), expected(text.toLowerCase(), split), `“${text}” ${split ?? ''}`);
    }
    console.log(`      5 M phrases: first query (builds the index) ${buildMs.toFixed(0)} ms, later queries ≤ ${slowest.toFixed(0)} ms`);
  });

  it('keeps metrics in columns and reports accuracy rows and errors', () => {
    const store = new MetricStore();
    store.set(3, { score: 1.5, lMean: 0.25, lMax: 0.5, hit: true }, 'testA');
    store.set(2000, { score: -1, lMean: 0.5, lMax: 1, hit: false }, undefined);
    store.setError(5, 'broken image');
    assert.equal(store.computedCount, 3);
    assert.deepEqual(store.get(3), { score: 1.5, lMean: 0.25, lMax: 0.5, hit: true });
    assert.equal(store.get(5), undefined);
    assert.equal(store.error(5), 'broken image');
    assert.deepEqual([...store.hitRows()], [{ split: 'testA', hit: true }, { split: undefined, hit: false }]);
    assert.deepEqual(Array.from(store.computedIndices()), [3, 2000]);
  });
});

describe('viewer host glue', () => {
  it('the HTML shell has a strict CSP with a script nonce and escapes the title', () => {
    const html = renderWebviewHtml({ cspSource: 'https://x.vscode-cdn.net', nonce: 'N0nce', scriptUri: 'https://x/webview.js', styleUri: 'https://x/webview.css', title: '<img src=x onerror=alert(1)>.json' });
    const csp = contentSecurityPolicy('https://x.vscode-cdn.net', 'N0nce');
    assert.ok(csp.startsWith("default-src 'none'"));
    assert.ok(csp.includes("script-src 'nonce-N0nce'"));
    assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'));
    assert.ok(html.includes('<script nonce="N0nce" src="https://x/webview.js"></script>'));
    assert.ok(!html.includes('<img'), 'title inserted as markup');
    assert.equal((html.match(/<script/g) ?? []).length, 1);
  });

  it('grants the webview the user’s folders, never the folders an annotation file names (issue 12 item 3)', async () => {
    // A colleague's file listing system files: before the fix their folders became localResourceRoots.
    const dir = mkdtempSync(path.join(tmpdir(), 'amc-roots-'));
    const file = path.join(dir, 'hostile.json');
    const ssh = path.join(homedir(), '.ssh', 'id_rsa');
    writeFileSync(file, JSON.stringify([
      { image: '/etc/hostname', caption: 'the host name', bbox: [[0, 0, 1, 1]] },
      { image: ssh, caption: 'a key', bbox: [[0, 0, 1, 1]] },
      { image: '../../../../../../etc/passwd', caption: 'relative escape', bbox: [[0, 0, 1, 1]] },
    ]));
    const ds = await openDataset(file);
    const samples = await ds.page(0, 10);
    assert.deepEqual(samples.map((x) => x.image).slice(0, 2), ['/etc/hostname', ssh]);
    const roots = viewerImageRoots({ workspaceFolders: ['/work/project'], datasetFile: file, format: ds.format });
    await ds.close();
    assert.deepEqual(roots, ['/work/project', dir]);
    for (const r of roots) {
      assert.ok(!['/etc', '/', path.dirname(ssh), homedir()].includes(r), `root ${r} grants a system or home folder`);
    }
    for (const x of samples) assert.equal(isInsideRoots(x.image, roots), false, `${x.image} is reachable`);
    // The user's choice counts: amc.imageRoots and "Allow this folder".
    assert.deepEqual(viewerImageRoots({ workspaceFolders: [], datasetFile: file, chosen: '/images/root' }), [dir, '/images/root']);
    const access = new ImageAccess(roots);
    assert.equal(access.allows('/etc/hostname'), false);
    assert.equal(access.allowFolderOf('/etc/hostname'), '/etc');
    assert.equal(access.allows('/etc/hostname'), true);
    assert.deepEqual(access.roots(), ['/work/project', dir, '/etc']);
    access.setGranted([dir]);
    assert.deepEqual(access.roots(), [dir, '/etc'], 'a folder allowed once stays allowed when the image root changes');
  });

  it('grants a format’s conventional image folder beside the file (by name, not from its content)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'amc-roots-coco-'));
    mkdirSync(path.join(dir, 'refcoco+'));
    mkdirSync(path.join(dir, 'train2014'));
    const file = path.join(dir, 'refcoco+', 'refs(unc).p');
    assert.deepEqual(viewerImageRoots({ workspaceFolders: [], datasetFile: file, format: 'refcoco-pickle' }), [path.join(dir, 'refcoco+'), path.join(dir, 'train2014')]);
    assert.deepEqual(viewerImageRoots({ workspaceFolders: [], datasetFile: file, format: 'amc-vg' }), [path.join(dir, 'refcoco+')]);
  });

  it('a symbolic link inside the roots that points outside them is not allowed', () => {
    const granted = mkdtempSync(path.join(tmpdir(), 'amc-roots-granted-'));
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'amc-roots-elsewhere-'));
    writeFileSync(path.join(elsewhere, 'private.png'), 'x');
    writeFileSync(path.join(granted, 'plain.png'), 'x');
    symlinkSync(path.join(elsewhere, 'private.png'), path.join(granted, 'link.png'));
    symlinkSync(path.join(granted, 'plain.png'), path.join(granted, 'inner-link.png'));
    const access = new ImageAccess([granted]);
    assert.equal(access.allows(path.join(granted, 'plain.png')), true);
    assert.equal(access.allows(path.join(granted, 'inner-link.png')), true);
    assert.equal(access.allows(path.join(granted, 'link.png')), false);
    assert.equal(access.allows(path.join(granted, 'not-there-yet.png')), true, 'a missing file is judged by its path (and reported missing)');
    // "Allow this folder" on the link grants the folder it leads to, so the user's click does what it says.
    assert.equal(access.allowFolderOf(path.join(granted, 'link.png')), realpathSync(elsewhere));
    assert.equal(access.allows(path.join(granted, 'link.png')), true);
  });

  it('isInsideRoots: never the root itself, never via ..', () => {
    assert.equal(isInsideRoots('/data/vg/VG_100K/1.jpg', ['/data/vg']), true);
    assert.equal(isInsideRoots('/data/vg/../secret.txt', ['/data/vg']), false);
    assert.equal(isInsideRoots('/data/vg', ['/data/vg']), false);
    assert.equal(isInsideRoots('/data/vg/..hidden.jpg', ['/data/vg']), true);
    assert.equal(isInsideRoots('/data/vgx/1.jpg', ['/data/vg']), false);
  });

  it('the session gives no image URI outside the roots, does not stat it, and offers "Allow this folder"', async () => {
    const inside = { ...sample(0), image: '/granted/a.jpg' }, outside = { ...sample(1), image: '/etc/hostname' };
    const ds = new MemoryDataset('/granted/d.json', 'amc-vg', [inside, outside]);
    const access = new ImageAccess(['/granted']);
    const statted: string[] = [];
    const session = new ViewerSession({
      mode: 'dataset', title: 'd', dataset: ds, getExplainer: async () => { throw new Error('no model'); }, metricStoreFor: () => new MetricStore(),
      imageUri: (p) => (access.allows(p) ? `res:${p}` : undefined),
      imageProblem: async (p) => { statted.push(p); return undefined; },
      allowImageFolder: (p) => access.allowFolderOf(p),
      savePng: async () => null, colormap: 'jet', post: (m) => client.receive(JSON.parse(JSON.stringify(m))),
    });
    const client = new RequestClient((m) => session.receive(JSON.parse(JSON.stringify(m))));
    assert.equal((await client.request('getSample', { index: 0 })).imageUri, 'res:/granted/a.jpg');
    const refused = await client.request('getSample', { index: 1 });
    assert.equal(refused.imageUri, undefined);
    assert.deepEqual(refused.imageOutside, { folder: '/etc', canAllow: true });
    assert.match(refused.imageProblem ?? '', /^\/etc\/hostname is outside the allowed folders/);
    assert.deepEqual(statted, ['/granted/a.jpg'], 'an image outside the roots was stat\'ed');
    assert.deepEqual(await client.request('allowImageFolder', { index: 1 }), { folder: '/etc' });
    assert.equal((await client.request('getSample', { index: 1 })).imageUri, 'res:/etc/hostname');
    // "AMC: Explain phrase" from this viewer offers the image it shows (issue 14 item 8).
    assert.equal(await session.shownImage(), '/etc/hostname');
    await client.request('getSample', { index: 0 });
    assert.equal(await session.shownImage(), '/granted/a.jpg');
    session.dispose();
  });

  it('maps byte offsets to line and column in one pass', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'amc-positions-'));
    const file = path.join(dir, 'a.json');
    writeFileSync(file, '[\n  {"a": 1},\n  {"b": 2}\n]\n');
    const pos = await offsetsToPositions(file, [0, 4, 16, 15, 999]);
    assert.deepEqual(pos.get(0), { line: 0, column: 0 });
    assert.deepEqual(pos.get(4), { line: 1, column: 2 });
    assert.deepEqual(pos.get(15), { line: 2, column: 1 });
    assert.deepEqual(pos.get(16), { line: 2, column: 2 });
    assert.equal(pos.get(999)?.line, 4);
  });

  it('the session answers bad requests and a missing model with clear errors', async () => {
    const ds = new MemoryDataset('/d.json', 'amc-vg', [sample(0), sample(1)]);
    const answers: HostToWebview[] = [];
    const session = new ViewerSession({
      mode: 'dataset', title: 'd', dataset: ds,
      getExplainer: async () => { throw new Error('/models/x/model.json not found'); },
      metricStoreFor: () => new MetricStore(), imageUri: () => undefined, imageProblem: async () => undefined,
      savePng: async () => null, colormap: 'jet', post: (m) => answers.push(m),
    });
    const client = new RequestClient((m) => session.receive(JSON.parse(JSON.stringify(m))));
    const origPush = answers.push.bind(answers);
    answers.push = (...m: HostToWebview[]) => { m.forEach((x) => client.receive(x)); return origPush(...m); };
    const init = await client.request('ready', {});
    assert.deepEqual(init.model, { error: '/models/x/model.json not found' });
    assert.equal(init.count, 2);
    await assert.rejects(client.request('getSample', { index: 5 }), /there is no sample 5 \(the dataset has 2\)/);
    await assert.rejects(client.request('explainSample', { index: 0 }), (e: unknown) => e instanceof RemoteError && e.code === 'no-model');
    await assert.rejects(client.request('setView', { query: { ...DEFAULT_QUERY, sortKey: 'nonsense' as never } }), /unknown sort key "nonsense"/);
    const { viewId } = await client.request('setView', { query: DEFAULT_QUERY });
    await assert.rejects(client.request('getRows', { viewId, start: 0, limit: 100_000 }), /limit ≤ 500/);
    await assert.rejects(client.request('getRows', { viewId: viewId + 1, start: 0, limit: 1 }), /was replaced/);
    await assert.rejects(client.request('savePng', { suggestedName: 'x.png', base64: Buffer.from('GIF89a').toString('base64') }), /not a PNG/);
    const rows = await client.request('getRows', { viewId, start: 0, limit: 10 });
    assert.deepEqual(rows.rows.map((r) => r.phrase), ['phrase 0', 'phrase 1']);
    session.dispose();
  });
});
