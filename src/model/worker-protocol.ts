// Messages between InferenceEngine (caller's thread) and the inference worker (worker.ts). Every request has
// an id and gets exactly one `result` with that id; `cancel` asks for an early AbortError.
import type { Sample } from '../core/types';
import type { ModelCard } from './card';
import type { BatchItem, ExplainResult, RuntimeOptions } from './runtime';
import type { Provider } from './session';

export interface WorkerInit { modelDir: string; options: RuntimeOptions; warmUp?: boolean; }

export type WorkerRequest =
  | { type: 'explain'; id: number; image: string; phrase: string }
  | { type: 'explainSamples'; id: number; samples: Sample[] }
  | { type: 'tokenize'; id: number; phrase: string }
  | { type: 'stats'; id: number }
  | { type: 'cancel'; id: number }
  | { type: 'dispose'; id: number };

export interface WorkerStats {
  imagesEncoded: number; encoderRuns: number; groundingRuns: number; phrasesGrounded: number;
  cache: { size: number; hits: number; misses: number };
  queued: number;
}

export type WorkerValue = null | ExplainResult | BatchItem[] | { ids: number[]; tokens: string[]; caption: string } | WorkerStats;

export type WorkerEvent =
  | { type: 'ready'; card: ModelCard; provider: Provider; providerNote?: string; providerDetail?: string }
  | { type: 'failed'; error: SerializedError }
  | { type: 'result'; id: number; ok: true; value: WorkerValue }
  | { type: 'result'; id: number; ok: false; error: SerializedError };

export interface SerializedError { name: string; message: string; }
