// A Dataset over samples already in memory: the one-image panel of "AMC: Explain phrase", and test hosts that
// need a dataset no file format can hold quickly (5 million generated rows). No vscode import.
import type { Dataset } from '../core/datasets/dataset';
import type { DatasetFormat, Problem, Sample } from '../core/types';

export class MemoryDataset implements Dataset {
  readonly complete = Promise.resolve();
  private readonly splitList: string[];

  /** `samples` is either an array or a generator of sample i (for huge synthetic lists). */
  constructor(
    readonly file: string,
    readonly format: DatasetFormat,
    private readonly samples: readonly Sample[] | { count: number; at: (index: number) => Sample; splits: string[] },
    private readonly problemList: Problem[] = [],
  ) {
    this.splitList = Array.isArray(samples)
      ? [...new Set((samples as readonly Sample[]).map((s) => s.split).filter((s): s is string => !!s))]
      : (samples as { splits: string[] }).splits;
  }

  count(): number { return Array.isArray(this.samples) ? this.samples.length : (this.samples as { count: number }).count; }

  async page(start: number, limit: number): Promise<Sample[]> {
    const end = Math.min(this.count(), start + limit);
    const out: Sample[] = [];
    for (let i = Math.max(0, start); i < end; i++) {
      out.push(Array.isArray(this.samples)
        ? (this.samples as readonly Sample[])[i]
        : (this.samples as { at: (i: number) => Sample }).at(i));
    }
    return out;
  }

  problems(): Problem[] { return this.problemList; }
  splits(): string[] { return this.splitList; }
  async close(): Promise<void> { /* nothing held */ }
}

/** The single "sample" of an Explain-phrase panel: an image and a phrase, no ground-truth box. */
export function phraseSample(image: string, phrase: string, caption: string): Sample {
  return {
    index: 0, id: 'phrase', image, imageId: image, phrase, caption, boxes: [], sourceBoxes: [], hitRule: 'xyxy',
    ids: {}, source: { file: image, entry: 'typed phrase' },
  };
}
