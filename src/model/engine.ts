// The inference engine the editor, commands and CLI call. onnxruntime runs in a worker thread (worker.ts), so a
// long evaluation never blocks the caller's event loop; requests queue in order, can be cancelled with an
// AbortSignal, and explainBatch sends a whole page of samples as one request that the worker batches. The channel
// is the shared request/response mechanism (src/shared/rpc.ts) with the worker's method map (worker-protocol.ts).
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Sample } from '../core/types';
import { RpcClient, type ErrorPayload } from '../shared/rpc';
import type { ModelCard } from './card';
import type { BatchItem, ExplainResult, RuntimeOptions, SampleExplanation } from './runtime';
import type { EngineToWorker, WorkerInit, WorkerMethods, WorkerStartup, WorkerStats, WorkerToEngine } from './worker-protocol';

export type { ProviderSetting } from './session';
export type { ExplainResult, SampleExplanation } from './runtime';
export type { ModelCard } from './card';

/** The runtime options the worker passes on (documented in runtime.ts), plus the worker's own. */
export interface EngineOptions
  extends Pick<RuntimeOptions, 'provider' | 'threads' | 'imageCacheSize' | 'batchSize' | 'maxPixels' | 'maxFileBytes'> {
  /** Run each graph once right after opening (default true), so the first request is not the slow one. */
  warmUp?: boolean;
  /** Path of the worker script; default: worker.js beside this bundle, or worker.ts when run from source. */
  workerScript?: string;
}

/** The default model folder shipped with the extension. */
export function defaultModelDir(extensionRoot: string): string {
  return path.join(extensionRoot, 'models', 'amc-small-synthetic');
}

/** Rebuild an error from the worker with its name, so callers can tell AbortError / ModelCardError apart. */
function revive(e: ErrorPayload): Error {
  const err = new Error(e.message);
  err.name = e.name ?? 'Error';
  return err;
}

function abortError(): Error {
  const e = new Error('cancelled'); e.name = 'AbortError';
  return e;
}

function resolveWorker(explicit?: string): { file: string; execArgv?: string[] } {
  if (explicit) return { file: explicit, execArgv: explicit.endsWith('.ts') ? ['--require', 'tsx/cjs'] : undefined };
  const bundled = path.join(__dirname, 'worker.js');
  if (existsSync(bundled)) return { file: bundled };
  // Running from source (mocha + tsx, benchmarks): load the TypeScript worker through tsx.
  const source = path.join(__dirname, 'worker.ts');
  if (existsSync(source)) return { file: source, execArgv: ['--require', 'tsx/cjs'] };
  throw new Error(`inference worker not found: expected ${bundled} (run \`npm run build\`)`);
}

export class InferenceEngine {
  private readonly client: RpcClient<WorkerMethods>;
  private closed = false;
  private fatal?: Error;

  private constructor(
    private readonly worker: Worker,
    readonly modelDir: string,
    readonly card: ModelCard,
    readonly provider: 'cuda' | 'cpu',
    /** Plain words: why CUDA is not used (see session.ts cpuFallbackNote). */
    readonly providerNote: string | undefined,
    /** onnxruntime's raw message behind providerNote, for --verbose and the output channel. */
    readonly providerDetail: string | undefined,
  ) {
    this.client = new RpcClient<WorkerMethods>((m: EngineToWorker) => worker.postMessage(m), revive);
    worker.on('message', (m: WorkerToEngine) => this.client.receive(m));
    const die = (err: Error): void => {
      this.fatal = err;
      this.closed = true;
      this.client.rejectAll(() => err);
    };
    worker.on('error', (e) => die(new Error(`inference worker crashed: ${e.message}`)));
    worker.on('exit', (code) => { if (!this.closed) die(new Error(`inference worker exited (code ${code})`)); });
  }

  /** Start the worker, which validates the card and the ONNX graphs; rejects with the reason on any mismatch. */
  static async open(modelDir: string, opts: EngineOptions = {}): Promise<InferenceEngine> {
    const dir = path.resolve(modelDir);
    const { file, execArgv } = resolveWorker(opts.workerScript);
    const init: WorkerInit = {
      modelDir: dir,
      options: {
        provider: opts.provider, threads: opts.threads, imageCacheSize: opts.imageCacheSize,
        batchSize: opts.batchSize, maxPixels: opts.maxPixels, maxFileBytes: opts.maxFileBytes,
      },
      warmUp: opts.warmUp,
    };
    const worker = new Worker(file, { workerData: init, execArgv });
    const ready = await new Promise<Extract<WorkerStartup, { kind: 'ready' }>>((resolve, reject) => {
      const onMessage = (ev: WorkerToEngine): void => {
        if (ev.kind === 'ready') { cleanup(); resolve(ev); }
        else if (ev.kind === 'failed') { cleanup(); reject(revive(ev.error)); }
      };
      const onError = (e: Error): void => { cleanup(); reject(new Error(`inference worker failed to start: ${e.message}`)); };
      const onExit = (code: number): void => { cleanup(); reject(new Error(`inference worker exited during start (code ${code})`)); };
      const cleanup = (): void => { worker.off('message', onMessage); worker.off('error', onError); worker.off('exit', onExit); };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    }).catch(async (e) => { await worker.terminate(); throw e; });
    return new InferenceEngine(worker, dir, ready.card, ready.provider, ready.providerNote, ready.providerDetail);
  }

  private request<K extends keyof WorkerMethods & string>(
    method: K, params: WorkerMethods[K]['params'], signal?: AbortSignal,
  ): Promise<WorkerMethods[K]['result']> {
    if (this.closed) return Promise.reject(this.fatal ?? new Error('inference engine is disposed'));
    return this.client.request(method, params, signal);
  }

  /** Explain one phrase on one image (any image file). */
  explain(image: string, phrase: string, signal?: AbortSignal): Promise<ExplainResult> {
    return this.request('explain', { image, phrase }, signal);
  }

  /** Explain a dataset sample: adds the hit and the per-sample L_mean / L_max on its box(es). */
  async explainSample(sample: Sample, signal?: AbortSignal): Promise<SampleExplanation> {
    const [r] = await this.explainBatch([sample], signal);
    if ('error' in r) throw Object.assign(new Error(r.error), { reason: r.reason }); // reason: for grouped reports
    return r;
  }

  /** Many samples in one request; images are encoded once each, phrases grounded in batches. */
  explainBatch(samples: Sample[], signal?: AbortSignal): Promise<BatchItem[]> {
    return this.request('explainSamples', { samples }, signal);
  }

  /** The model's tokenization of a phrase (for per-token UI), or the reason it is refused. */
  tokenize(phrase: string): Promise<{ ids: number[]; tokens: string[]; caption: string }> {
    return this.request('tokenize', { phrase });
  }

  /** Counters: graph runs, cache hits, queue length. */
  stats(): Promise<WorkerStats> {
    return this.request('stats', {});
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    // Give the worker up to 5 s to release its sessions, but never let that timer outlive the answer: a pending
    // timer keeps a CLI process alive after it has printed its result.
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.request('dispose', {}),
        new Promise((r) => { timer = setTimeout(r, 5000); timer.unref(); }),
      ]);
    } catch { /* the worker is going away regardless */ } finally {
      clearTimeout(timer);
    }
    this.closed = true;
    this.client.rejectAll(abortError);
    await this.worker.terminate();
  }
}
