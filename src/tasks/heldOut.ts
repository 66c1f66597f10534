// After a fine-tune (issue 13 item 4): the previous and the new model evaluated on the held-out annotations of the
// training data, per split, with the same pointing game as "AMC: Evaluate pointing game" (src/model/evaluate.ts).
import { openDataset } from '../core/datasets';
import { splitDeltas } from '../shared/comparison';
import { InferenceEngine, type EngineOptions } from '../model/engine';
import { evaluateDataset } from '../model/evaluate';
import type { SplitAccuracyPayload, SplitDelta } from '../shared/protocol';

export interface HeldOutComparison {
  file: string;
  previous: { dir: string; bySplit: SplitAccuracyPayload[]; summary: string };
  next: { dir: string; bySplit: SplitAccuracyPayload[]; summary: string };
  /** new − previous, per split (and 'all'). */
  deltas: SplitDelta[];
}

/** Evaluates both model folders on `file` (images under `imageRoot`); throws with the file named when it cannot. */
export async function compareOnHeldOut(
  previousDir: string, nextDir: string, file: string, imageRoot: string, engineOptions: EngineOptions,
  signal?: AbortSignal,
): Promise<HeldOutComparison> {
  const scores = async (dir: string) => {
    const ds = await openDataset(file, { imageRoot });
    const engine = await InferenceEngine.open(dir, engineOptions);
    try {
      const report = await evaluateDataset(engine, ds, { signal });
      if (report.interrupted) throw new Error(`evaluation of ${dir} on ${file} stopped: ${report.stoppedBy ?? 'cancelled'}`);
      return {
        dir, bySplit: report.accuracy.map((a) => ({ split: a.split, hits: a.hits, total: a.total, accuracy: a.accuracy })),
        summary: report.summary,
      };
    } finally {
      await engine.dispose();
      await ds.close();
    }
  };
  const previous = await scores(previousDir);
  const next = await scores(nextDir);
  return { file, previous, next, deltas: splitDeltas(next.bySplit, previous.bySplit) };
}
