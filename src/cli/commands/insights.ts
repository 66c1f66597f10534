// `amc insights REPORT.json`: where and why the model fails, from an evaluation report (`amc eval --out` or
// `python -m amc_trainer eval --out`): accuracy by word, phrase length, GT box area, number of boxes and split,
// where misses point, and L_mean / L_max histograms. Tables on stdout, or the same numbers with --json.
import { AREA_BUCKETS, BORDER_MARGIN, computeInsights, type Histogram, type Insights, type Rate } from '../../core/insights';
import { readReportTable } from '../../core/reportReader';
import { intOption, UsageError, type CliIO } from '../command';
import { parseCommandArgs } from '../options';

const VIEWS = ['word', 'length', 'area', 'boxes', 'split', 'miss-target', 'loss'] as const;
type View = typeof VIEWS[number];

export const summary = 'accuracy by word, phrase length, box area, boxes, split; where misses point; loss histograms';
export const usage = `usage: amc insights REPORT.json [--by ${VIEWS.join('|')}] [--min-count N] [--bins B] [--json]
  REPORT.json    a report of amc eval --out (or python -m amc_trainer eval --out); per query it reads phrase,
                 split, image, boxes, width, height, hit, point, lMean, lMax and error
  --by V         only this breakdown (default: all of them)
  --min-count N  words occurring in fewer than N scored phrases are not listed (default 5)
  --bins B       histogram bins of L_mean and L_max (default 20, equal width over the values' range)
  --json         the same numbers as one JSON object (NaN as null)
Rows with an error (or no hit) are counted as "not scored", never as misses. Intervals: Wilson 95 %.
Miss targets: inside another query's GT box on the same image (strictly, as the hit rule), else on the border
(within ${BORDER_MARGIN * 100} % of the width or height of an edge), else background.`;

function parse(args: string[]) {
  return parseCommandArgs(args, { by: { type: 'string' }, 'min-count': { type: 'string' }, bins: { type: 'string' }, json: { type: 'boolean' } }, true);
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'expected one REPORT.json' : 'missing REPORT.json');
  const by = values.by as View | undefined;
  if (by !== undefined && !VIEWS.includes(by)) throw new UsageError(`--by must be one of ${VIEWS.join(', ')}, got '${by}'`);
  const minCount = intOption('min-count', values['min-count']) ?? 5;
  const bins = intOption('bins', values.bins) ?? 20;
  if (bins < 1) throw new UsageError('--bins must be at least 1');

  // Read on several threads where the machine has them (the same table as one sequential read; see reportReader.ts).
  const { table } = await readReportTable(positionals[0]);
  const insights = computeInsights(table, { minCount, bins });
  if (values.json) {
    const pick = by === undefined ? insights : pickView(insights, by);
    await io.out(`${JSON.stringify(pick, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1)}\n`);
  } else {
    await io.out(`${formatInsights(insights, by)}\n`);
  }
  return 0;
}

function pickView(i: Insights, by: View): unknown {
  const head = { rows: i.rows, scored: i.scored, hits: i.hits, notScored: i.notScored, overall: i.overall };
  switch (by) {
    case 'word': return { ...head, byWord: i.byWord };
    case 'length': return { ...head, byLength: i.byLength };
    case 'area': return { ...head, byArea: i.byArea };
    case 'boxes': return { ...head, byBoxes: i.byBoxes };
    case 'split': return { ...head, bySplit: i.bySplit };
    case 'miss-target': return { ...head, missTarget: i.missTarget };
    case 'loss': return { ...head, histograms: i.histograms };
  }
}

const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–');

function rateTable(title: string, keyHeader: string, rates: readonly Rate[]): string {
  const width = Math.max(keyHeader.length, ...rates.map((r) => r.key.length));
  const lines = [title, `${keyHeader.padEnd(width)}   hits / queries  accuracy  95% interval     not scored`];
  for (const r of rates) {
    lines.push(`${r.key.padEnd(width)}  ${String(r.hits).padStart(6)} / ${String(r.queries).padEnd(7)}  ${pct(r.accuracy).padStart(7)}` +
      `   ${(r.queries ? `${pct(r.low)}–${pct(r.high)}` : '–').padEnd(15)}  ${r.notScored || ''}`.trimEnd());
  }
  return lines.join('\n');
}

function histogramTable(name: string, h: Histogram): string {
  if (!h.edges.length) return `${name}: no values in the report`;
  const lines = [`${name} (${h.hits.length} equal bins; counts of hits and misses)`, 'bin                        hits   misses'];
  const digits = (v: number): string => v.toPrecision(4);
  for (let i = 0; i < h.hits.length; i++) {
    const range = `[${digits(h.edges[i])}, ${digits(h.edges[i + 1])}${i === h.hits.length - 1 ? ']' : ')'}`;
    lines.push(`${range.padEnd(24)} ${String(h.hits[i]).padStart(7)}  ${String(h.misses[i]).padStart(7)}`);
  }
  if (h.missing) lines.push(`(${h.missing} scored queries without a value)`);
  return lines.join('\n');
}

export function formatInsights(i: Insights, by?: View): string {
  const parts: string[] = [];
  parts.push(`${i.rows} queries: ${i.scored} scored, ${i.hits} hits (${pct(i.overall.accuracy)}, 95% ${pct(i.overall.low)}–${pct(i.overall.high)})` +
    (i.notScored ? `; ${i.notScored} not scored (${i.notScoredReasons.slice(0, 3).map((r) => `${r.count}× ${r.reason}`).join('; ')})` : ''));
  const want = (v: View): boolean => by === undefined || by === v;
  if (want('word')) {
    parts.push(i.byWord.words.length
      ? rateTable(`By word (words in ≥ ${i.byWord.minCount} scored phrases: ${i.byWord.words.length} of ${i.byWord.wordsTotal}; worst first)`, 'word', i.byWord.words)
      : `By word: no word occurs in ≥ ${i.byWord.minCount} scored phrases (--min-count)`);
  }
  if (want('length')) parts.push(rateTable('By phrase length (words after pre_caption)', 'words', i.byLength));
  if (want('area')) {
    parts.push(rateTable(`By GT box area (union of the boxes / image area; buckets ${AREA_BUCKETS.map((b) => b.key).join(' ')})`, 'area', i.byArea));
  }
  if (want('boxes')) parts.push(rateTable('By number of GT boxes', 'boxes', i.byBoxes));
  if (want('split')) parts.push(i.bySplit.length ? rateTable('By split', 'split', i.bySplit) : 'By split: no query of the report has a split');
  if (want('miss-target')) {
    const m = i.missTarget;
    const share = (n: number): string => (m.misses ? `${String(n).padStart(7)}  ${pct(n / m.misses).padStart(6)}` : String(n));
    const row = (label: string, n: number): string => `${label.padEnd(34)}${share(n)}`;
    const lines = [`Where misses point (${m.misses} misses)`,
      row("in another query's GT box", m.counts['other-box']),
      row(`on the image border (within ${m.borderMargin * 100}%)`, m.counts.border),
      row('background', m.counts.background)];
    if (m.counts['size-unknown']) lines.push(row('not in a box, image size unknown', m.counts['size-unknown']));
    lines.push(`same object as another phrase: ${m.sameObject.queries} scored queries (${m.sameObject.misses} misses) on ${m.sameObject.objects} objects`);
    if (m.confusions.length) {
      lines.push('most frequent: phrase → phrase whose box the point landed in');
      for (const c of m.confusions) lines.push(`${String(c.count).padStart(7)}  ${c.phrase} → ${c.landedOn}`);
    }
    parts.push(lines.join('\n'));
  }
  if (want('loss')) {
    parts.push(histogramTable('L_mean', i.histograms.lMean));
    parts.push(histogramTable('L_max', i.histograms.lMax));
  }
  return parts.join('\n\n');
}
