// The inference worker (bundled to out/worker.js): owns one ModelRuntime, runs requests one at a time
// (onnxruntime already uses every core for one run; its run() is synchronous on this thread) in arrival order,
// except that a single explain jumps ahead of queued dataset pages, and honours cancellation both for queued
// requests (answered at once) and for the running one (stops at the next graph run).
import { parentPort, workerData } from 'node:worker_threads';
import { AbortError, ModelRuntime, type ExplainResult, type BatchItem } from './runtime';
import type { SerializedError, WorkerEvent, WorkerInit, WorkerRequest, WorkerValue } from './worker-protocol';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;

function serialize(e: unknown): SerializedError {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

function post(ev: WorkerEvent, transfer: ArrayBuffer[] = []): void {
  port.postMessage(ev, transfer);
}

/** The Float32Array buffers of a result, moved instead of copied. */
function buffersOf(value: WorkerValue): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  const add = (r: ExplainResult): void => {
    out.push(r.gradcam.buffer as ArrayBuffer);
    for (const t of r.tokenGradcam) out.push(t.buffer as ArrayBuffer);
  };
  if (value === null) return out;
  if (Array.isArray(value)) for (const r of value as BatchItem[]) { if (!('error' in r)) add(r); }
  else if ('gradcam' in value) add(value);
  return [...new Set(out)];
}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  let runtime: ModelRuntime;
  try {
    runtime = await ModelRuntime.open(init.modelDir, init.options);
  } catch (e) {
    post({ type: 'failed', error: serialize(e) });
    return;
  }
  post({ type: 'ready', card: runtime.card, provider: runtime.provider, providerNote: runtime.providerNote, providerDetail: runtime.providerDetail });
  // Warm both graphs right after reporting ready; requests that arrive meanwhile queue behind it.
  const warming = init.warmUp === false ? Promise.resolve() : runtime.warmUp().catch(() => undefined);

  const queue: WorkerRequest[] = [];
  let running: { id: number; controller: AbortController } | undefined;

  const runOne = async (req: WorkerRequest): Promise<WorkerValue> => {
    const controller = new AbortController();
    running = { id: req.id, controller };
    try {
      switch (req.type) {
        case 'explain': return await runtime.explain(req.image, req.phrase, controller.signal);
        case 'explainSamples': return await runtime.explainSamples(req.samples, controller.signal);
        case 'tokenize': {
          const t = runtime.encodePhrase(req.phrase);
          return { ids: t.ids, tokens: t.tokens, caption: t.caption };
        }
        default: throw new Error(`unknown request ${(req as { type: string }).type}`);
      }
    } finally {
      running = undefined;
    }
  };

  let draining = false;
  const drain = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    await warming;
    while (queue.length) {
      const req = queue.shift()!;
      try {
        const value = await runOne(req);
        post({ type: 'result', id: req.id, ok: true, value }, buffersOf(value));
      } catch (e) {
        post({ type: 'result', id: req.id, ok: false, error: serialize(e) });
      }
    }
    draining = false;
  };

  port.on('message', (req: WorkerRequest) => {
    if (req.type === 'cancel') {
      const i = queue.findIndex((q) => q.id === req.id);
      if (i >= 0) {
        queue.splice(i, 1);
        post({ type: 'result', id: req.id, ok: false, error: serialize(new AbortError()) });
      } else if (running?.id === req.id) {
        running.controller.abort();
      }
      return;
    }
    if (req.type === 'dispose') {
      // Answer everything still queued, stop the running request, then free the sessions.
      for (const q of queue.splice(0)) post({ type: 'result', id: q.id, ok: false, error: serialize(new AbortError()) });
      running?.controller.abort();
      void (async () => {
        while (draining) await new Promise((r) => setTimeout(r, 5));
        await runtime.dispose().catch(() => undefined);
        post({ type: 'result', id: req.id, ok: true, value: null });
      })();
      return;
    }
    if (req.type === 'stats') {
      post({ type: 'result', id: req.id, ok: true, value: { ...runtime.stats, cache: runtime.cacheStats, queued: queue.length } });
      return;
    }
    // A single explain or tokenize (someone waiting at the UI) goes ahead of queued dataset pages, after other
    // interactive requests; the running request is never pre-empted.
    if (req.type === 'explain' || req.type === 'tokenize') {
      const firstBatch = queue.findIndex((q) => q.type === 'explainSamples');
      queue.splice(firstBatch < 0 ? queue.length : firstBatch, 0, req);
    } else {
      queue.push(req);
    }
    void drain();
  });
}

void main();
