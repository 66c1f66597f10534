// onnxruntime-node sessions with the execution provider chosen by a setting.
//
// onnxruntime-node does NOT fall back by itself: asking for ['cuda', 'cpu'] without the CUDA provider libraries
// throws at session creation (docs/architecture.md "Platform notes"). So 'auto' tries CUDA alone first and, when
// that throws, opens a CPU session and keeps the reason (plain words + onnxruntime's text) for the viewer header /
// CLI; 'cuda' turns the same failure into an error that says how to get the provider.
import * as ort from 'onnxruntime-node';
import { threadsProblem } from '../core/threads';

export type ProviderSetting = 'auto' | 'cuda' | 'cpu';
export type Provider = 'cuda' | 'cpu';

export interface SessionOptions {
  provider?: ProviderSetting;
  /** Intra-op threads; 0 / undefined = onnxruntime's default (one per physical core). */
  threads?: number;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: Provider;
  /**
   * Why CUDA was not used under 'auto', in plain words for headers and reports ("CPU — CUDA provider not
   * installed"); undefined when CUDA runs or 'cpu' was asked for.
   */
  providerNote?: string;
  /** onnxruntime's own message for that failure, for `--verbose` and the output channel. */
  providerDetail?: string;
}

/** The CUDA provider was asked for explicitly and cannot load. */
export class ProviderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderError';
  }
}

export const CUDA_HELP =
  'the CUDA execution provider is not installed with onnxruntime-node here (this project installs its CPU build). ' +
  'On a machine with an NVIDIA GPU and CUDA 12: `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --ignore-scripts=false` ' +
  '(see README "GPU"), or set the provider to "auto" or "cpu"';

function baseOptions(threads: number | undefined): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    ...(threads && threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
  };
}

/**
 * The plain-words note for a CUDA provider that could not be used under 'auto'. onnxruntime reports a missing
 * provider library as `OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library`, which is the
 * normal state of a CPU install, so it gets the short label; anything else is a real CUDA failure.
 */
export function cpuFallbackNote(reason: string): string {
  return /failed to load shared library|cannot open shared object|providers_cuda/i.test(reason)
    ? 'CPU — CUDA provider not installed'
    : 'CPU — CUDA provider failed to start (details: --verbose / the AMC output channel)';
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0].trim();
}

let envQuietened = false;

/** Open one ONNX file with the provider rule above. */
export async function openSession(file: string, opts: SessionOptions = {}): Promise<OpenedSession> {
  const setting = opts.provider ?? 'auto';
  if (setting !== 'auto' && setting !== 'cuda' && setting !== 'cpu') {
    throw new ProviderError(`unknown execution provider setting ${JSON.stringify(setting)} (use "auto", "cuda" or "cpu")`);
  }
  if (opts.threads !== undefined) {
    const problem = threadsProblem(opts.threads);
    if (problem) throw new Error(`${file}: ${problem}`);
  }
  const base = baseOptions(opts.threads);
  if (setting !== 'cpu') {
    try {
      // The failed provider load also prints a native ERROR line; keep the process output clean and report it here.
      if (!envQuietened) { ort.env.logLevel = 'fatal'; envQuietened = true; }
      const session = await ort.InferenceSession.create(file, { ...base, executionProviders: ['cuda'], logSeverityLevel: 4 });
      return { session, provider: 'cuda' };
    } catch (e) {
      const reason = firstLine(e);
      if (setting === 'cuda') {
        throw new ProviderError(`${file}: CUDA was requested (provider "cuda") but cannot be used: ${reason}. ${CUDA_HELP}`);
      }
      // Not every failure is the provider's: a corrupt model fails the same call. Only fall back if CPU opens it.
      const session = await createCpu(file, base);
      return { session, provider: 'cpu', providerNote: cpuFallbackNote(reason), providerDetail: reason };
    }
  }
  return { session: await createCpu(file, base), provider: 'cpu' };
}

async function createCpu(file: string, base: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, { ...base, executionProviders: ['cpu'] });
  } catch (e) {
    throw new Error(`${file}: onnxruntime cannot load this model (${firstLine(e)})`);
  }
}

/** One tensor's declared signature, as onnxruntime reports it: dims are numbers or symbolic names. */
export interface IoSignature {
  name: string;
  type: string;
  shape: (number | string)[];
}

export function signatureOf(meta: readonly ort.InferenceSession.ValueMetadata[]): IoSignature[] {
  return meta.map((m) => (m.isTensor
    ? { name: m.name, type: m.type, shape: [...m.shape] }
    : { name: m.name, type: 'non-tensor', shape: [] }));
}
