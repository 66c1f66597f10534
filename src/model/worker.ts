// The inference worker (bundled to out/worker.js): owns one ModelRuntime, runs requests one at a time
// (onnxruntime already uses every core for one run; its run() is synchronous on this thread) in arrival order,
// except that a single explain jumps ahead of queued dataset pages, and honours cancellation both for queued
// requests (answered at once) and for the running one (stops at the next graph run). Requests arrive over the
// shared request/response mechanism (src/shared/rpc.ts) with the method map of worker-protocol.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../core/errors';
import { RpcServer } from '../shared/rpc';
import { AbortError, ModelRuntime, type ExplainResult, type BatchItem } from './runtime';
import { WORKER_METHODS, type WorkerInit, type WorkerMethods, type WorkerStartup } from './worker-protocol';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;

/** The Float32Array buffers of a result, moved instead of copied. */
function buffersOf(value: unknown): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  const add = (r: ExplainResult): void => {
    out.push(r.gradcam.buffer as ArrayBuffer);
    for (const t of r.tokenGradcam) out.push(t.buffer as ArrayBuffer);
  };
  if (value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) for (const r of value as BatchItem[]) { if (!('error' in r)) add(r); }
  else if ('gradcam' in value) add(value as ExplainResult);
  return [...new Set(out)];
}

interface Job {
  interactive: boolean;
  controller: AbortController;
  run(signal: AbortSignal): Promise<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** One request at a time, in order, interactive ones (explain, tokenize) ahead of queued dataset pages. */
class Scheduler {
  private readonly queue: Job[] = [];
  private running: Job | undefined;
  private draining = false;
  constructor(private readonly warming: Promise<void>) {}

  get queued(): number { return this.queue.length; }

  schedule<T>(interactive: boolean, signal: AbortSignal, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const job: Job = { interactive, controller: new AbortController(), run, resolve: resolve as (v: unknown) => void, reject };
      signal.addEventListener('abort', () => {
        const i = this.queue.indexOf(job);
        if (i >= 0) { this.queue.splice(i, 1); reject(new AbortError()); } // queued: answered at once
        else job.controller.abort();                                        // running: stops at its next graph run
      }, { once: true });
      // A single explain or tokenize (someone waiting at the UI) goes ahead of queued dataset pages, after other
      // interactive requests; the running request is never pre-empted.
      const firstBatch = interactive ? this.queue.findIndex((q) => !q.interactive) : -1;
      this.queue.splice(firstBatch < 0 ? this.queue.length : firstBatch, 0, job);
      void this.drain();
    });
  }

  /** Answer everything queued with AbortError, stop the running request, and wait until it has stopped. */
  async cancelAll(): Promise<void> {
    for (const job of this.queue.splice(0)) job.reject(new AbortError());
    this.running?.controller.abort();
    while (this.draining) await new Promise((r) => setTimeout(r, 5));
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    await this.warming;
    while (this.queue.length) {
      const job = this.queue.shift()!;
      this.running = job;
      try { job.resolve(await job.run(job.controller.signal)); } catch (e) { job.reject(e); } finally { this.running = undefined; }
    }
    this.draining = false;
  }
}

function postStartup(m: WorkerStartup): void { port.postMessage(m); }

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  let runtime: ModelRuntime;
  try {
    runtime = await ModelRuntime.open(init.modelDir, init.options);
  } catch (e) {
    postStartup({ kind: 'failed', error: { message: errorMessage(e), name: e instanceof Error ? e.name : 'Error' } });
    return;
  }
  postStartup({ kind: 'ready', card: runtime.card, provider: runtime.provider, providerNote: runtime.providerNote, providerDetail: runtime.providerDetail });
  // Warm both graphs right after reporting ready; requests that arrive meanwhile queue behind it.
  const scheduler = new Scheduler(init.warmUp === false ? Promise.resolve() : runtime.warmUp().catch(() => undefined));

  const server = new RpcServer<WorkerMethods>(WORKER_METHODS, {
    explain: ({ image, phrase }, signal) => scheduler.schedule(true, signal, (s) => runtime.explain(image, phrase, s)),
    explainSamples: ({ samples }, signal) => scheduler.schedule(false, signal, (s) => runtime.explainSamples(samples, s)),
    tokenize: ({ phrase }, signal) => scheduler.schedule(true, signal, async () => {
      const t = runtime.encodePhrase(phrase);
      return { ids: t.ids, tokens: t.tokens, caption: t.caption };
    }),
    stats: async () => ({ ...runtime.stats, cache: runtime.cacheStats, queued: scheduler.queued }),
    dispose: async () => {
      await scheduler.cancelAll();
      await runtime.dispose().catch(() => undefined);
      return null;
    },
  }, (m) => port.postMessage(m, m.kind === 'response' && m.ok ? buffersOf(m.result) : []));
  port.on('message', (m: unknown) => server.receive(m));
}

void main();
