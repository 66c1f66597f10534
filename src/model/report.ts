// The HTML evaluation report (`amc demo`): per-sample image | box mask | GradCAM side by side, the metrics, and
// the pointing-game accuracy per split. Images are PNG files in a folder next to the HTML, so the page opens
// from disk in any browser with no server.
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Sample } from '../core/types';
import type { SampleExplanation } from './engine';
import type { EvalReport, EvalRow } from './evaluate';
import { samplePanels } from './figure';
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

function accuracyRows(r: EvalReport): string {
  return r.accuracy.map((a) => `<tr${a.split === 'all' ? ' class="all"' : ''}><td>${esc(a.split)}</td><td>${a.hits}</td><td>${a.total}</td>` +
    `<td><b>${formatAccuracy(a.accuracy)}</b></td></tr>`).join('');
}

function sampleRow(row: EvalRow, panels: PanelFiles | undefined): string {
  const status = row.error ? `<span class="err">not scored: ${esc(row.reason ?? 'error')}</span>` : row.hit ? '<span class="hit">hit</span>' : '<span class="miss">miss</span>';
  const imgs = panels
    ? `<figure><img src="${esc(panels.image)}" alt="image with ground-truth boxes"><figcaption>image + GT box</figcaption></figure>` +
      `<figure><img src="${esc(panels.mask)}" alt="box mask"><figcaption>box mask</figcaption></figure>` +
      `<figure><img src="${esc(panels.gradcam)}" alt="GradCAM overlay"><figcaption>GradCAM + point</figcaption></figure>`
    : `<div class="err">${esc(row.error ?? 'not explained')}</div>`;
  return `<section class="sample ${row.error ? 'error' : row.hit ? 'hit' : 'miss'}">` +
    `<h3>#${row.index} ${status} <q>${esc(row.phrase)}</q> <small>${esc(row.split ?? '')} · ${esc(path.basename(row.image))}</small></h3>` +
    `<div class="panels">${imgs}</div>` +
    `<p class="metrics">score ${num(row.score)} · L<sub>mean</sub> ${num(row.lMean)} · L<sub>max</sub> ${num(row.lMax)} · ` +
    `point ${row.point ? `(${row.point.x}, ${row.point.y})` : '–'} · box ${row.boxes.map((b) => `[${b.join(', ')}]`).join(' ')}</p></section>`;
}

export function renderHtml(title: string, sections: ReportSection[], modelCard: Record<string, unknown>): string {
  const first = sections[0]?.report;
  const metrics = modelCard.metrics && typeof modelCard.metrics === 'object' && Object.keys(modelCard.metrics).length
    ? `<details><summary>metrics recorded in the model card</summary><pre>${esc(JSON.stringify(modelCard.metrics, null, 2))}</pre></details>` : '';
  const body = sections.map((s) => `
<h2>${esc(s.title)}</h2>
<p class="meta">${esc(s.report.file)} (${esc(s.report.format)}) · ${s.report.counts.notScored ? `<b>${esc(s.report.summary)}</b>` : esc(s.report.summary)}` +
    ` in ${s.report.durationS.toFixed(1)} s${s.report.interrupted ? ' · <b>interrupted</b>' : ''}</p>
<table class="acc"><thead><tr><th>split</th><th>hits</th><th>queries</th><th>pointing-game accuracy</th></tr></thead><tbody>${accuracyRows(s.report)}</tbody></table>
${s.report.samples.map((r) => sampleRow(r, s.panels.get(r.id))).join('\n')}`).join('\n');
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
body.misses-only .sample.hit{display:none}
</style></head><body>
<h1>${esc(title)}</h1>
<p>Model <b>${esc(first?.model.name ?? '')}</b> (${esc(first?.model.dir ?? '')}) on ${esc(first?.model.provider ?? '')}${first?.model.providerNote ? ` — ${esc(first.model.providerNote)}` : ''}.
Pointing game as the reference evaluation (spec §4): raw GradCAM → bicubic to the image size → first maximum → hit when strictly inside a ground-truth box.
L<sub>mean</sub>/L<sub>max</sub> are the AMC training losses of that sample at batch size 1 (spec §2).</p>
<label><input type="checkbox" onchange="document.body.classList.toggle('misses-only', this.checked)"> show misses only</label>
${metrics}
${body}
</body></html>
`;
}
