// One contender opening one VG region_descriptions.json, in its own process so peak RSS is its own.
// Prints one JSON line: { contender, firstPageMs, fullMs, regions, maxRssMB } or { error }.
//   node bench/open-vg/child.mjs ours|ours+phrases|stream-json|json-parse FILE [READER_BUNDLE]
import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const [contender, file, bundle] = process.argv.slice(2);
const PAGE = 100;
const t0 = performance.now();
const ms = () => Math.round(performance.now() - t0);
const cpu = () => { const u = process.cpuUsage(); return Math.round((u.user + u.system) / 1000); }; // this process's CPU, all threads
let result;

try {
  if (contender === 'ours' || contender === 'ours+phrases') {
    const { openVgRegions } = createRequire(import.meta.url)(bundle);
    // How long a host request (a webview message) waits behind the indexer: the event loop's delay while it runs,
    // and the longest gap between two ticks of a 5 ms interval timer.
    const delay = monitorEventLoopDelay({ resolution: 5 });
    let lastTick = performance.now(), maxGapMs = 0;
    const ticker = setInterval(() => { const now = performance.now(); maxGapMs = Math.max(maxGapMs, now - lastTick); lastTick = now; }, 5);
    delay.enable();
    const ds = await openVgRegions(file, { phraseIndex: contender === 'ours+phrases' });
    const page = await ds.page(0, PAGE);
    const firstPageMs = ms(), firstPageCpuMs = cpu();
    if (page.length !== PAGE) throw new Error(`first page has ${page.length} samples`);
    await ds.complete;
    const fullMs = ms(), fullCpuMs = cpu();
    delay.disable();
    clearInterval(ticker);
    const loop = {
      loopP99Ms: Math.round(delay.percentile(99) / 1e6), loopMaxMs: Math.round(delay.max / 1e6), maxGapMs: Math.round(maxGapMs),
    };
    const last = await ds.page(ds.count() - 1, 1); // the index serves the end of the file too
    if (last.length !== 1) throw new Error('last sample missing');
    result = { firstPageMs, firstPageCpuMs, fullMs, fullCpuMs, regions: ds.count(), ...loop };
    await ds.close();
  } else if (contender === 'stream-json') {
    // stream-json 3.x (ESM): the top-level array streamed element by element, each image assembled whole.
    const { streamArray } = await import('stream-json/streamers/stream-array.js');
    let regions = 0;
    let firstPageMs, firstPageCpuMs;
    const pipeline = createReadStream(file).pipe(streamArray.withParserAsStream({ streamValues: false }));
    for await (const { value } of pipeline) {
      regions += value.regions.length;
      if (firstPageMs === undefined && regions >= PAGE) { firstPageMs = ms(); firstPageCpuMs = cpu(); }
    }
    result = { firstPageMs, firstPageCpuMs, fullMs: ms(), fullCpuMs: cpu(), regions };
  } else if (contender === 'json-parse') {
    const images = JSON.parse(readFileSync(file, 'utf8'));
    let regions = 0;
    for (const image of images) regions += image.regions.length;
    result = { firstPageMs: ms(), firstPageCpuMs: cpu(), fullMs: ms(), fullCpuMs: cpu(), regions };
  } else {
    throw new Error(`unknown contender ${contender}`);
  }
} catch (err) {
  result = { error: String(err.message ?? err).slice(0, 120), atMs: ms(), atCpuMs: cpu() };
}
console.log(JSON.stringify({ contender, ...result, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
