// The HTML evaluation report (`amc demo`): per-sample image | box mask | GradCAM side by side, the metrics, and
// the pointing-game accuracy per split. Images are PNG files in a folder next to the HTML, so the page opens
// from disk in any browser with no server.
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { SplitAccuracy } from '../core/math/pointing';
import { colormap } from '../core/math/colormap';
import type { Sample } from '../core/types';
import type { SampleExplanation } from '../model/engine';
import type { EvalReport, EvalRow } from '../model/evaluate';
import { samplePanels } from '../model/figure';
import { itmNote } from '../model/card';
import { formatAccuracy } from '../core/notScored';

export interface ReportSection { title: string; report: EvalReport; panels: Map<string, PanelFiles>; }
export interface PanelFiles { image: string; mask: string; gradcam: string; }

/** Renders the three panels of a finished sample into `imgDir` and remembers their relative paths. */
export class PanelWriter {
  readonly panels = new Map<string, PanelFiles>();
  private n = 0;
  constructor(private readonly htmlDir: string, private readonly imgDir: string, private readonly prefix: string,
    private readonly maxFileBytes?: number) {}

  async add(row: EvalRow, sample: Sample, result: SampleExplanation | undefined): Promise<void> {
    if (!result) return;
    await mkdir(this.imgDir, { recursive: true });
    const p = await samplePanels(sample.image, sample.boxes, result, undefined, undefined, this.maxFileBytes);
    const base = path.join(this.imgDir, `${this.prefix}-${String(this.n++).padStart(4, '0')}`);
    const files: PanelFiles = { image: `${base}-image.png`, mask: `${base}-mask.png`, gradcam: `${base}-gradcam.png` };
    await Promise.all([writeFile(files.image, p.image), writeFile(files.mask, p.mask), writeFile(files.gradcam, p.gradcam)]);
    const rel = (f: string): string => path.relative(this.htmlDir, f).split(path.sep).join('/');
    this.panels.set(row.id, { image: rel(files.image), mask: rel(files.mask), gradcam: rel(files.gradcam) });
  }
}

function esc(s: unknown): string {
  return String(s).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' }[c]!));
}

const num = (v: number | undefined, digits = 3): string => (v === undefined ? '–' : v.toFixed(digits));

/** Where a split name sorts: the benchmarks' own order (RefCOCO+ val, testA, testB; Flickr30k val, test). */
const SPLIT_ORDER = ['train', 'val', 'test', 'testA', 'testB'];

function splitRank(split: string): number {
  const i = SPLIT_ORDER.indexOf(split);
  if (i >= 0) return i;
  return split === 'all' ? Number.MAX_SAFE_INTEGER : split === '(none)' ? SPLIT_ORDER.length + 1 : SPLIT_ORDER.length;
}

/**
 * The accuracy rows as a reader wants them: splits in their natural order (val, test, testA, testB, then any
 * other split by name), the overall row last, and no overall row when it would only repeat the one split.
 */
export function reportAccuracyRows(acc: readonly SplitAccuracy[]): SplitAccuracy[] {
  const splits = acc.filter((a) => a.split !== 'all')
    .sort((a, b) => splitRank(a.split) - splitRank(b.split) || a.split.localeCompare(b.split));
  const all = acc.filter((a) => a.split === 'all');
  return splits.length === 1 && all.length === 1 && all[0].total === splits[0].total ? splits : [...splits, ...all];
}

/** A CSS gradient of the jet colormap the GradCAM panels use, low (left) to high (right). */
function jetGradient(): string {
  const stops = Array.from({ length: 11 }, (_, i) => {
    const [r, g, b] = colormap('jet', i / 10);
    return `rgb(${r},${g},${b}) ${i * 10}%`;
  });
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

/** What each panel colour and each number of a sample means (the report is read without this project's docs). */
function legend(note: string | undefined): string {
  return `<details class="legend" open><summary>How to read a sample</summary>
<div class="legend-row"><span class="swatch box"></span> ground-truth box (green outline, in the first and third panel)</div>
<div class="legend-row"><span class="swatch mask"></span> box mask: white = inside a box, black = outside (what L<sub>mean</sub>/L<sub>max</sub> compare against)</div>
<div class="legend-row"><span class="swatch point"></span> the pointing-game point: the GradCAM maximum</div>
<div class="legend-row">GradCAM: <span class="ramp" style="background:${jetGradient()}"></span> low → high (jet colormap, stretched per image for display)</div>
<div class="legend-row"><span class="hit">hit</span> point strictly inside a box · <span class="miss">miss</span> point outside every box · <span class="err">error</span> not explained</div>
<dl>
${note ? `<dt>score</dt><dd>Not shown: ${esc(note)}.</dd>` : `<dt>score</dt><dd>The model's raw image–text match logit (ITM head, "match" class, before softmax) for this phrase on this image: higher means the model finds the phrase more present. Its sign and scale depend on the model; compare scores within one model.</dd>`}
<dt>L<sub>mean</sub></dt><dd>The AMC mean-attention loss of this sample (training loss at batch size 1): max(0, mean GradCAM outside the box − mean inside + 0.1), with the GradCAM min-max normalised and upsampled to 256×256. 0 means the map is on average at least 0.1 higher inside the box than outside; lower is better.</dd>
<dt>L<sub>max</sub></dt><dd>The AMC max-attention loss: max(0, highest GradCAM value outside the box − highest inside + 0.5). 0 means the peak inside the box beats every value outside by at least 0.5 (of the normalised range); lower is better.</dd>
<dt>point</dt><dd>(x, y) in original image pixels of the first maximum of the raw GradCAM after bicubic upsampling to the image size; the sample is a hit when it lies strictly inside a ground-truth box.</dd>
<dt>box</dt><dd>The ground-truth box(es) as [x1, y1, x2, y2] in image pixels.</dd>
</dl></details>`;
}

function accuracyRows(r: EvalReport): string {
  return reportAccuracyRows(r.accuracy).map((a) => `<tr${a.split === 'all' ? ' class="all"' : ''}><td>${esc(a.split)}</td><td>${a.hits}</td><td>${a.total}</td>` +
    `<td><b>${formatAccuracy(a.accuracy)}</b></td></tr>`).join('');
}

function sampleRow(row: EvalRow, panels: PanelFiles | undefined, note: string | undefined): string {
  const status = row.error ? `<span class="err">not scored: ${esc(row.reason ?? 'error')}</span>` : row.hit ? '<span class="hit">hit</span>' : '<span class="miss">miss</span>';
  const imgs = panels
    ? `<figure><img src="${esc(panels.image)}" alt="image with ground-truth boxes"><figcaption>image + GT box</figcaption></figure>` +
      `<figure><img src="${esc(panels.mask)}" alt="box mask"><figcaption>box mask</figcaption></figure>` +
      `<figure><img src="${esc(panels.gradcam)}" alt="GradCAM overlay"><figcaption>GradCAM + point</figcaption></figure>`
    : `<div class="err">${esc(row.error ?? 'not explained')}</div>`;
  return `<section class="sample ${row.error ? 'error' : row.hit ? 'hit' : 'miss'}">` +
    `<h3>#${row.index} ${status} <q>${esc(row.phrase)}</q> <small>${esc(row.split ?? '')} · ${esc(path.basename(row.image))}</small></h3>` +
    `<div class="panels">${imgs}</div>` +
    `<p class="metrics">${note ? '' : `score ${num(row.score)} · `}L<sub>mean</sub> ${num(row.lMean)} · L<sub>max</sub> ${num(row.lMax)} · ` +
    `point ${row.point ? `(${row.point.x}, ${row.point.y})` : '–'} · box ${row.boxes.map((b) => `[${b.join(', ')}]`).join(' ')}</p></section>`;
}

export function renderHtml(title: string, sections: ReportSection[], modelCard: Record<string, unknown>): string {
  const first = sections[0]?.report;
  const note = itmNote({ itmTrained: typeof modelCard.itm_trained === 'boolean' ? modelCard.itm_trained : undefined });
  const metrics = modelCard.metrics && typeof modelCard.metrics === 'object' && Object.keys(modelCard.metrics).length
    ? `<details><summary>metrics recorded in the model card</summary><pre>${esc(JSON.stringify(modelCard.metrics, null, 2))}</pre></details>` : '';
  const body = sections.map((s) => `
<h2>${esc(s.title)}</h2>
<p class="meta">${esc(s.report.file)} (${esc(s.report.format)}) · ${s.report.counts.notScored ? `<b>${esc(s.report.summary)}</b>` : esc(s.report.summary)}` +
    ` in ${s.report.durationS.toFixed(1)} s${s.report.interrupted ? ' · <b>interrupted</b>' : ''}</p>
<table class="acc"><thead><tr><th>split</th><th>hits</th><th>queries</th><th>pointing-game accuracy</th></tr></thead><tbody>${accuracyRows(s.report)}</tbody></table>
${s.report.samples.map((r) => sampleRow(r, s.panels.get(r.id), note)).join('\n')}`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px} h2{margin-top:32px;border-bottom:1px solid #ccc} h3{font-size:14px;margin:4px 0}
table.acc{border-collapse:collapse;margin:8px 0 16px} table.acc td,table.acc th{border:1px solid #ccc;padding:3px 10px;text-align:right}
table.acc td:first-child{text-align:left} tr.all{background:#f3f3f3}
.sample{border-top:1px solid #eee;padding:8px 0} .panels{display:flex;gap:8px;flex-wrap:wrap}
figure{margin:0} figcaption{font-size:11px;color:#666;text-align:center} img{display:block;height:192px}
.hit{color:#0a7a2f;font-weight:bold} .miss{color:#b00020;font-weight:bold} .err{color:#b06000}
.metrics{color:#444;margin:4px 0} .meta{color:#555} q{font-style:italic}
.legend{margin:12px 0;padding:8px 12px;border:1px solid #ddd;background:#fafafa} .legend-row{margin:4px 0}
.legend dt{font-weight:bold;margin-top:6px} .legend dd{margin:0 0 0 16px;color:#333}
.swatch{display:inline-block;width:14px;height:14px;vertical-align:middle;margin:0 6px 0 0}
.swatch.box{border:2px solid #00ff66} .swatch.mask{background:linear-gradient(to right,#fff 50%,#000 50%);border:1px solid #999}
.swatch.point{border:2px solid #000;outline:2px solid #fff;border-radius:50%;background:#888}
.ramp{display:inline-block;width:160px;height:12px;vertical-align:middle;border:1px solid #999}
body.misses-only .sample.hit{display:none}
</style></head><body>
<h1>${esc(title)}</h1>
<p>Model <b>${esc(first?.model.name ?? '')}</b> (${esc(first?.model.dir ?? '')}) on ${esc(first?.model.providerNote ?? first?.model.provider ?? '')}.
Pointing game as the reference evaluation of the AMC paper: raw GradCAM → bicubic to the image size → first maximum → hit when strictly inside a ground-truth box; accuracy = hits / queries per split.
L<sub>mean</sub>/L<sub>max</sub> are the AMC training losses of that sample at batch size 1.
The formulas and their sources: docs/reference.md §2 (losses) and §4 (pointing game) in the AMC Grounding Lens repository.</p>
${note ? `<p class="itm-note"><b>ITM scores are not shown:</b> ${esc(note)}.</p>\n` : ''}${legend(note)}
<label><input type="checkbox" onchange="document.body.classList.toggle('misses-only', this.checked)"> show misses only</label>
${metrics}
${body}
</body></html>
`;
}

/** Significant digits of a sample's floats in a report: 9, the float32 round-trip precision (docs/reference.md §8). */
export const REPORT_FLOAT_DIGITS = 9;

/**
 * A sample's float as a report writes it: rounded to {@link REPORT_FLOAT_DIGITS} significant digits. The metrics are
 * float32 quantities (float32 maps; ≤ 1e-4 between the two engines), so further digits are float64 noise, and ≤ 15
 * digits parse on the readers' exact fast path. Integers and non-finite values are kept (JSON.stringify writes the
 * latter as null, as before). Ties round away from zero, as the Python writer does (eval_report.py report_float).
 */
export function reportFloat(x: number): number {
  return Number.isFinite(x) && !Number.isInteger(x) ? Number(x.toPrecision(REPORT_FLOAT_DIGITS)) : x;
}

/** A sample with each of its own number fields (score, itmProbability, lMean, lMax, total…) rounded by reportFloat;
 * nested values (boxes, point) unchanged. */
function reportRowNumbers(row: unknown): unknown {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) return row;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key] = typeof value === 'number' ? reportFloat(value) : value;
  return out;
}

/**
 * The JSON text of an evaluation report (`amc eval --out`, `amc demo`'s report-*.json), the layout both writers
 * use (docs/reference.md §8): the report indented by one space, except each element of "samples", which is compact
 * on a line of its own (~30 % fewer bytes than indenting every field; `amc insights` cuts the file at those lines
 * to read it on several threads); each sample's floats with 9 significant digits (reportFloat). The Python writer
 * (trainer/amc_trainer/eval_report.py report_json) writes the same.
 */
export function reportJson(report: { samples: readonly unknown[] }): string {
  const text = JSON.stringify({ ...report, samples: [] }, null, 1);
  // The top-level key is the only one at an indentation of one space ('"' is escaped inside string values).
  const at = text.indexOf('\n "samples": []');
  if (at < 0) throw new Error('report without a top-level "samples" array');
  const rows = report.samples.map((row) => JSON.stringify(reportRowNumbers(row))).join(',\n');
  const samples = report.samples.length ? `\n "samples": [\n${rows}\n ]` : '\n "samples": []';
  return `${text.slice(0, at)}${samples}${text.slice(at + '\n "samples": []'.length)}\n`;
}
