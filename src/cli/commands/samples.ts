// `amc samples FILE`: print the grounding queries a file holds, as the readers parse them.
import type { Sample } from '../../core/types';
import { isDatasetFormat, openDataset, DATASET_FORMATS } from '../../core/datasets/index';
import { intOption, UsageError, type CliIO } from '../command';
import { parseCommandArgs } from '../options';

export const summary = 'print the parsed queries of an annotation file (JSON lines with --json)';
export const usage = `usage: amc samples FILE [--image-root DIR] [--split S] [--limit N] [--start N] [--json] [--format F]
  FILE              any supported annotation file (the format is detected from its content)
  --image-root DIR  folder images are resolved against (default: the format's rule, see README)
  --split S         only samples of this split (val, test, testA, ...)
  --limit N         print at most N samples
  --start N         skip the first N samples (before --split filtering)
  --json            one JSON object per line: index, id, image, width, height, phrase, caption, boxes (xyxy), split, ids
  --format F        skip detection: ${DATASET_FORMATS.join(' | ')}`;

/** The JSON-lines record of one sample (stable keys; unknown sizes and splits are null). */
export function sampleRecord(s: Sample): Record<string, unknown> {
  return {
    index: s.index, id: s.id, image: s.image, width: s.width ?? null, height: s.height ?? null,
    phrase: s.phrase, caption: s.caption, boxes: s.boxes, split: s.split ?? null, ids: s.ids,
  };
}

function textLine(s: Sample): string {
  const boxes = s.boxes.map((b) => `[${b.join(',')}]`).join(' ') || '(no box)';
  return `${s.index}\t${s.split ?? '-'}\t${s.imageId}\t${JSON.stringify(s.phrase)}\t${boxes}`;
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'expected one FILE' : 'missing FILE');
  const limit = intOption('limit', values.limit) ?? Infinity;
  const start = intOption('start', values.start) ?? 0;
  if (values.format !== undefined && !isDatasetFormat(values.format)) {
    throw new UsageError(`--format must be one of ${DATASET_FORMATS.join(', ')}, got '${values.format}'`);
  }
  const ds = await openDataset(positionals[0], { imageRoot: values['image-root'], format: values.format as never });
  try {
    const PAGE = 1000;
    let printed = 0;
    let index = start;
    while (printed < limit) {
      const page = await ds.page(index, PAGE);
      let chunk = '';
      for (const s of page) {
        if (values.split !== undefined && s.split !== values.split) continue;
        chunk += `${values.json ? JSON.stringify(sampleRecord(s)) : textLine(s)}\n`;
        if (++printed >= limit) break;
      }
      if (chunk) await io.out(chunk);
      index += page.length;
      if (page.length < PAGE) break;
    }
    if (printed < limit) await ds.complete; // all read: surface a file that ends badly
    const bad = ds.badEntries?.() ?? 0;
    if (bad) io.err(`${bad} bad entr${bad === 1 ? 'y' : 'ies'} skipped (unreadable; \`amc lint ${positionals[0]}\` lists them)`);
    if (values.split !== undefined && printed === 0) {
      const splits = ds.splits();
      io.err(`no samples in split '${values.split}' (splits in this file: ${splits.length ? splits.join(', ') : 'none'})`);
    }
    return 0;
  } finally {
    await ds.close();
  }
}

function parse(args: string[]) {
  return parseCommandArgs(args, {
    'image-root': { type: 'string' }, split: { type: 'string' }, limit: { type: 'string' },
    start: { type: 'string' }, json: { type: 'boolean' }, format: { type: 'string' },
  }, true);
}
