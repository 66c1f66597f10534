// `amc lint FILE`: report annotation problems as `file:entry: severity: message [code]`; exit 1 on any error.
import { isDatasetFormat, openDataset, DATASET_FORMATS } from '../../core/datasets/index';
import { lintDataset, type LintReport } from '../../core/lint';
import type { Problem } from '../../core/types';
import { UsageError, type CliIO } from '../command';
import { parseCommandArgs } from '../options';

export const summary = 'report annotation problems (bad boxes, missing images, duplicate ids, ...); exit 1 on errors';
export const usage = `usage: amc lint FILE [--image-root DIR] [--no-image-check] [--json] [--format F]
  FILE              any supported annotation file (the format is detected from its content)
  --image-root DIR  folder images are resolved against (default: the format's rule, see README)
  --no-image-check  do not check the image files (exist, regular file, header decodes; size for boxes
                    when the format has none)
  --json            one JSON object per problem: severity, code, message, file, entry, byteOffset, line
  --format F        skip detection: ${DATASET_FORMATS.join(' | ')}
exit code: 0 no errors (warnings allowed), 1 errors found, 2 the file could not be opened or bad usage`;

/** "1,204 samples, 3 bad entries skipped": bad entries are never dropped from a count silently. */
export function lintSummary(report: Pick<LintReport, 'samples' | 'badEntries'>): string {
  const bad = report.badEntries ? `, ${report.badEntries.toLocaleString('en-US')} bad entr${report.badEntries === 1 ? 'y' : 'ies'} skipped` : '';
  return `${report.samples.toLocaleString('en-US')} samples${bad}`;
}

export function problemLine(p: Problem): string {
  return `${p.location.file}:${p.location.entry}: ${p.severity}: ${p.message} [${p.code}]`;
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    'image-root': { type: 'string' }, 'no-image-check': { type: 'boolean' }, json: { type: 'boolean' },
    format: { type: 'string' },
  }, true);
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'expected one FILE' : 'missing FILE');
  if (values.format !== undefined && !isDatasetFormat(values.format)) {
    throw new UsageError(`--format must be one of ${DATASET_FORMATS.join(', ')}, got '${values.format}'`);
  }
  const ds = await openDataset(positionals[0], { imageRoot: values['image-root'], format: values.format as never });
  try {
    const report = await lintDataset(ds, { checkImages: !values['no-image-check'] });
    let text = '';
    for (const p of report.problems) {
      text += values.json
        ? `${JSON.stringify({ severity: p.severity, code: p.code, message: p.message, ...p.location })}\n`
        : `${problemLine(p)}\n`;
    }
    if (text) await io.out(text);
    io.err(`${lintSummary(report)}: ${report.errors} error(s), ${report.warnings} warning(s)`);
    return report.errors > 0 ? 1 : 0;
  } finally {
    await ds.close();
  }
}
