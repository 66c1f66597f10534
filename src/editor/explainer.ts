// What the viewer needs from a model: the subset of src/model/engine.ts's InferenceEngine it calls, written
// structurally so the viewer session (and its Chromium test host) does not import onnxruntime. No vscode import.
import type { Sample } from '../core/types';
import type { ExplainResult } from '../model/runtime';
import type { ExplanationPayload, ModelInfo } from '../shared/protocol';

// The engine's result type itself; a type-only import, so nothing of onnxruntime is loaded here.
export type ExplainResultLike = ExplainResult;

export interface SampleExplanationLike extends ExplainResultLike {
  hit: boolean;
  lMean: number;
  lMax: number;
  total: number;
  maskEmpty: boolean;
}

export interface EngineLike {
  explain(image: string, phrase: string, signal?: AbortSignal): Promise<ExplainResultLike>;
  explainSample(sample: Sample, signal?: AbortSignal): Promise<SampleExplanationLike>;
  explainBatch(samples: Sample[], signal?: AbortSignal): Promise<(SampleExplanationLike | { error: string; reason?: string })[]>;
}

/** An engine plus what identifies its model: metrics are cached per `modelKey`. */
export interface Explainer {
  readonly modelKey: string;
  readonly info: ModelInfo;
  readonly engine: EngineLike;
  /** sha256 of grounding.onnx as the model card records it: the model's identity an evaluation report names. */
  readonly modelSha256?: string;
}

export function toPayload(
  index: number | null, phrase: string, r: ExplainResultLike, losses?: Partial<SampleExplanationLike>,
): ExplanationPayload {
  return {
    index, phrase,
    score: r.score,
    itmProbability: r.itmProbability,
    grid: r.grid,
    gradcam: Array.from(r.gradcam),
    tokens: [...r.tokens],
    tokenGradcam: r.tokenGradcam.map((m) => Array.from(m)),
    width: r.width,
    height: r.height,
    point: { x: r.point.x, y: r.point.y },
    hit: losses?.hit, lMean: losses?.lMean, lMax: losses?.lMax, total: losses?.total, maskEmpty: losses?.maskEmpty,
  };
}
