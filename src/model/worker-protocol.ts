// The channel between InferenceEngine (caller's thread) and the inference worker (worker.ts): the same
// request/response mechanism as the webview (src/shared/rpc.ts: ids, one answer per request, cancel), with this
// method map. Before any request the worker posts one startup message: `ready` (card checked, graphs loaded) or
// `failed` (why it cannot run the model).
import type { Sample } from '../core/types';
import type { CancelMessage, ErrorPayload, RequestEnvelope, ResponseMessage } from '../shared/rpc';
import type { ModelCard } from './card';
import type { BatchItem, ExplainResult, RuntimeOptions } from './runtime';
import type { Provider } from './session';

export interface WorkerInit { modelDir: string; options: RuntimeOptions; warmUp?: boolean; }

export interface WorkerStats {
  imagesEncoded: number; encoderRuns: number; groundingRuns: number; phrasesGrounded: number;
  cache: { size: number; hits: number; misses: number };
  queued: number;
}

export interface WorkerMethods {
  explain: { params: { image: string; phrase: string }; result: ExplainResult };
  explainSamples: { params: { samples: Sample[] }; result: BatchItem[] };
  tokenize: { params: { phrase: string }; result: { ids: number[]; tokens: string[]; caption: string } };
  stats: { params: Record<string, never>; result: WorkerStats };
  /** Answer everything queued with AbortError, stop the running request, free the sessions. */
  dispose: { params: Record<string, never>; result: null };
}

export const WORKER_METHODS: readonly (keyof WorkerMethods)[] = ['explain', 'explainSamples', 'tokenize', 'stats', 'dispose'];

export type WorkerStartup =
  | { kind: 'ready'; card: ModelCard; provider: Provider; providerNote?: string; providerDetail?: string }
  | { kind: 'failed'; error: ErrorPayload };

export type EngineToWorker = RequestEnvelope<WorkerMethods> | CancelMessage;
export type WorkerToEngine = WorkerStartup | ResponseMessage;
