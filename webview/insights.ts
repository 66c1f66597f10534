// The Insights panel (issue 15 item 2): where and why the model fails, as charts of the host's breakdowns
// (src/core/insights.ts) — accuracy bars with their 95 % intervals by word, phrase length, GT area, number of
// boxes and split, where the points of misses land, and L_mean / L_max histograms of hits and misses. A tab
// beside the sample detail. Every bar and bin is a button whose aria-label gives its numbers; activating it
// filters the sample list to exactly those queries (the host computes the index set: only aggregates come here).
// With a comparison model every chart shows both models and the delta: bars of rates and of miss targets get the
// comparison's bar and Δ, histograms a comparison column per bin (on the current model's bins), a Δ line and a
// table of both models' numbers; the buttons' labels state both models and Δ.
import type { Histogram, Insights, Rate } from '../src/core/insights';
import { formatDeltaPts } from '../src/shared/comparison';
import { describeSelection } from '../src/shared/insightLabels';
import type { InsightBreakdown, InsightSelection, InsightsResult, RequestClient } from '../src/shared/protocol';
import { el } from './dom';

export interface InsightsPanelHost {
  client: RequestClient;
  /** The sample detail view: the other tab. */
  detail: HTMLElement;
  /** The sample list: a click or Enter there brings the detail tab back. */
  list: HTMLElement;
  /** Filter the sample list to one bar's queries, or clear that filter (null). */
  applyFilter(selection: InsightSelection | null): void;
  /** The Insights filter the list has now (restored state). */
  activeFilter(): InsightSelection | null | undefined;
}

type RateKey = 'word' | 'length' | 'area' | 'boxes' | 'split';
const RATE_SECTIONS: ReadonlyArray<{ key: RateKey; title: string; noun: string; pick: (i: Insights) => Rate[] }> = [
  { key: 'word', title: 'Accuracy by word (worst first)', noun: 'word', pick: (i) => i.byWord.words },
  { key: 'length', title: 'By phrase length (words)', noun: 'phrase length', pick: (i) => i.byLength.filter((r) => r.queries + r.notScored > 0) },
  { key: 'area', title: 'By GT box area (fraction of the image)', noun: 'GT area', pick: (i) => i.byArea.filter((r) => r.queries + r.notScored > 0) },
  { key: 'boxes', title: 'By number of GT boxes', noun: 'GT boxes', pick: (i) => i.byBoxes.filter((r) => r.queries + r.notScored > 0) },
  { key: 'split', title: 'By split', noun: 'split', pick: (i) => i.bySplit },
];
const MISS_LABELS: Record<string, string> = {
  'other-box': 'in another GT box', border: 'on the image border', background: 'on the background', 'size-unknown': 'image size unknown',
};
const MIN_COUNTS = [1, 2, 5, 10, 20, 50];

/** NaN arrives as null through postMessage. */
const num = (v: number | null | undefined): number => (typeof v === 'number' ? v : NaN);
const pct = (v: number | null | undefined, digits = 1): string => (Number.isFinite(num(v)) ? `${(num(v) * 100).toFixed(digits)} %` : '–');
/** A count difference with its sign ("+3", "−2", "±0"). */
const signed = (d: number): string => (d > 0 ? `+${d}` : d < 0 ? `−${-d}` : '±0');
const sameSelection = (a: InsightSelection | null | undefined, b: InsightSelection): boolean =>
  !!a && a.breakdown === b.breakdown && a.key === b.key && a.outcome === b.outcome;

export class InsightsPanel {
  readonly element = el('section', 'insights-host');
  private readonly tabs = el('div', 'insights-tabs');
  private readonly detailTab = el('button', 'insights-tab', 'Sample');
  private readonly insightsTab = el('button', 'insights-tab', 'Insights');
  private readonly detailPanel = el('div', 'insights-tabpanel');
  private readonly panel = el('div', 'insights-tabpanel insights');
  private readonly body = el('div', 'insights-body');
  private readonly status = el('div', 'insights-status');
  private readonly filterLine = el('div', 'insights-filter');
  private minCount = 5;
  private result: InsightsResult | undefined;
  private stale = true;
  private loading: Promise<void> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly host: InsightsPanelHost) {
    this.tabs.setAttribute('role', 'tablist');
    this.tabs.setAttribute('aria-label', 'Sample detail or insights');
    for (const [tab, panel, id] of [[this.detailTab, this.detailPanel, 'detail'], [this.insightsTab, this.panel, 'insights']] as const) {
      tab.type = 'button';
      tab.id = `amc-tab-${id}`;
      tab.setAttribute('role', 'tab');
      tab.setAttribute('aria-controls', `amc-tabpanel-${id}`);
      panel.id = `amc-tabpanel-${id}`;
      panel.setAttribute('role', 'tabpanel');
      panel.setAttribute('aria-labelledby', tab.id);
      tab.addEventListener('click', () => this.show(id));
      tab.addEventListener('keydown', (e) => {
        if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
          e.preventDefault();
          const other = id === 'detail' ? 'insights' : 'detail';
          this.show(other);
          (other === 'detail' ? this.detailTab : this.insightsTab).focus();
        }
      });
      this.tabs.append(tab);
    }
    this.detailPanel.append(host.detail);
    this.status.setAttribute('role', 'status');
    this.filterLine.hidden = true;
    this.panel.setAttribute('aria-label', 'Insights: where the model fails');
    this.panel.append(this.controls(), this.status, this.filterLine, this.body);
    this.element.append(this.tabs, this.detailPanel, this.panel);
    this.show('detail');

    // Looking at a sample of the filtered list brings its detail back.
    host.list.addEventListener('click', () => this.show('detail'));
    host.list.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.show('detail'); });
    const later = () => this.refreshSoon();
    host.client.on('evaluation', later);
    host.client.on('rowsComputed', later);
    host.client.on('modelChanged', later);
    host.client.on('comparisonChanged', later);
    // A report being read (partial) refreshes the numbers if shown; the finished one brings the panel forward.
    host.client.on('reportLoaded', ({ partial }) => { if (partial) this.refreshSoon(); else { this.stale = true; this.show('insights'); } });
  }

  get visible(): boolean { return !this.panel.hidden; }

  show(which: 'detail' | 'insights'): void {
    const insights = which === 'insights';
    this.panel.hidden = !insights;
    this.detailPanel.hidden = insights;
    this.insightsTab.setAttribute('aria-selected', String(insights));
    this.detailTab.setAttribute('aria-selected', String(!insights));
    this.insightsTab.tabIndex = insights ? 0 : -1;
    this.detailTab.tabIndex = insights ? -1 : 0;
    if (insights && this.stale) void this.refresh();
  }

  /** Results changed: refetch the numbers (at most about once a second while visible; on showing otherwise). */
  private refreshSoon(): void {
    this.stale = true;
    if (!this.visible || this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => { this.refreshTimer = undefined; void this.refresh(); }, 1000);
  }

  async refresh(): Promise<void> {
    if (this.loading) { await this.loading; if (!this.stale) return; }
    this.stale = false;
    this.loading = (async () => {
      this.panel.setAttribute('aria-busy', 'true');
      try {
        this.result = await this.host.client.request('getInsights', { minCount: this.minCount });
        this.render();
      } catch (e) {
        this.status.textContent = `Insights could not be computed: ${e instanceof Error ? e.message : String(e)}`;
        this.status.classList.add('error');
      } finally {
        this.panel.removeAttribute('aria-busy');
      }
    })();
    await this.loading;
    this.loading = undefined;
  }

  private controls(): HTMLElement {
    const bar = el('div', 'insights-controls');
    const label = el('label', 'control-label', 'Words in at least ');
    const select = el('select', 'insights-mincount');
    select.setAttribute('aria-label', 'Show words occurring in at least this many phrases');
    for (const n of MIN_COUNTS) {
      const o = el('option', undefined, String(n));
      o.value = String(n);
      o.selected = n === this.minCount;
      select.append(o);
    }
    select.addEventListener('change', () => { this.minCount = Number(select.value); this.stale = true; void this.refresh(); });
    label.append(select, document.createTextNode(' phrases'));
    bar.append(label);
    return bar;
  }

  /** The list filter changed (from here or restored): mark the pressed bar and say what the list holds. */
  private renderFilter(): void {
    const active = this.host.activeFilter();
    for (const b of this.body.querySelectorAll<HTMLButtonElement>('button[data-key]')) {
      const sel: InsightSelection = { breakdown: b.dataset.breakdown as InsightBreakdown, key: b.dataset.key!, outcome: b.dataset.outcome as InsightSelection['outcome'] };
      b.setAttribute('aria-pressed', String(sameSelection(active, sel)));
    }
    this.filterLine.hidden = !active;
    if (!active) return;
    const clear = el('button', 'insights-clear', 'Clear');
    clear.type = 'button';
    clear.setAttribute('aria-label', 'Clear the insights filter of the sample list');
    clear.addEventListener('click', () => { this.host.applyFilter(null); this.renderFilter(); });
    this.filterLine.replaceChildren(el('span', undefined, `List filtered to ${describeSelection(active, this.result?.current ?? undefined)}`), clear);
  }

  private select(selection: InsightSelection): void {
    const again = sameSelection(this.host.activeFilter(), selection);
    this.host.applyFilter(again ? null : selection);   // a second press clears it
    this.renderFilter();
  }

  private render(): void {
    const r = this.result;
    this.status.classList.remove('error');
    if (!r || !r.current) {
      this.status.textContent = 'No results yet: Evaluate pointing game, or load a report (AMC: Open evaluation report…). Rows explained while you browse count too.';
      this.body.replaceChildren();
      this.filterLine.hidden = true;
      return;
    }
    const cur = r.current;
    const cmp = r.comparison?.insights;
    const from = (r.fromReport ? ` · ${r.fromReport} from the report ${r.report ?? ''}` : '') +
      (r.noImageSize ? ` · ${r.noImageSize} without an image size (GT area unknown)` : '');
    this.status.textContent = `${cur.scored} scored queries of ${r.rows} with results${cur.notScored ? ` (${cur.notScored} not scored)` : ''}${from} · ` +
      `accuracy ${pct(cur.overall.accuracy)}${cmp ? ` · ${r.comparison!.model}: ${pct(cmp.overall.accuracy)} (${formatDeltaPts((num(cur.overall.accuracy) - num(cmp.overall.accuracy)) * 100)})` : ''}`;
    const sections: HTMLElement[] = [];
    if (cmp) {
      const legend = el('div', 'insights-legend');
      legend.append(el('span', 'swatch current'), el('span', undefined, 'current model'), el('span', 'swatch comparison'),
        el('span', undefined, `${r.comparison!.model} (comparison)`), el('span', 'insights-legend-note', 'Δ = current − comparison'));
      sections.push(legend);
    }
    for (const s of RATE_SECTIONS) {
      const rates = s.pick(cur);
      if (!rates.length && s.key !== 'word') continue;
      const title = s.key === 'word' ? `${s.title} — ${rates.length} of ${cur.byWord.wordsTotal} words in ≥ ${cur.byWord.minCount} phrases` : s.title;
      sections.push(this.rateChart(s.key, title, s.noun, rates, cmp ? s.pick(cmp) : undefined));
    }
    sections.push(this.missChart(cur, cmp));
    sections.push(this.histogram('lMean', 'L_mean', cur.histograms.lMean, cmp?.histograms.lMean),
      this.histogram('lMax', 'L_max', cur.histograms.lMax, cmp?.histograms.lMax));
    this.body.replaceChildren(...sections);
    this.renderFilter();
  }

  private section(title: string, breakdown: string): { section: HTMLElement; list: HTMLElement } {
    const section = el('section', 'insights-chart');
    section.dataset.breakdown = breakdown;
    const heading = el('h3', undefined, title);
    heading.id = `amc-insights-${breakdown}`;
    const list = el('div', 'insights-bars');
    list.setAttribute('role', 'group');
    list.setAttribute('aria-labelledby', heading.id);
    // Up / Down move between the bars of a chart (Tab leaves it).
    list.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      const buttons = [...list.querySelectorAll<HTMLButtonElement>('button:not([disabled])')];
      const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
      if (at < 0) return;
      e.preventDefault();
      const next = buttons[Math.max(0, Math.min(buttons.length - 1, at + (e.key === 'ArrowDown' || e.key === 'ArrowRight' ? 1 : -1)))];
      next.focus();
    });
    section.append(heading, list);
    return { section, list };
  }

  private button(selection: InsightSelection, ariaLabel: string, className: string, count: number): HTMLButtonElement {
    const b = el('button', className);
    b.type = 'button';
    b.dataset.breakdown = selection.breakdown;
    b.dataset.key = selection.key;
    b.dataset.outcome = selection.outcome;
    b.setAttribute('aria-label', ariaLabel);
    b.title = ariaLabel;
    b.setAttribute('aria-pressed', 'false');
    if (count === 0) b.disabled = true;
    b.addEventListener('click', () => this.select(selection));
    return b;
  }

  private rateChart(breakdown: RateKey, title: string, noun: string, rates: Rate[], comparison: Rate[] | undefined): HTMLElement {
    const { section, list } = this.section(title, breakdown);
    if (!rates.length) list.append(el('p', 'insights-empty', 'No word occurs in enough phrases: lower the minimum above.'));
    const byKey = new Map((comparison ?? []).map((c) => [c.key, c]));
    for (const rate of rates) {
      const row = el('div', 'insights-row');
      const misses = rate.queries - rate.hits;
      const other = byKey.get(rate.key);
      const delta = other ? (num(rate.accuracy) - num(other.accuracy)) * 100 : NaN;
      const compared = comparison ? `; comparison model ${pct(other?.accuracy)} (${other?.hits ?? 0} of ${other?.queries ?? 0}), delta ${formatDeltaPts(delta)}` : '';
      const label = `${noun} ${rate.key}: ${rate.hits} of ${rate.queries} hit, ${pct(rate.accuracy)}, 95 % interval ${pct(rate.low)} to ${pct(rate.high)}` +
        `${rate.notScored ? `, ${rate.notScored} not scored` : ''}${compared}. Show these ${rate.queries} queries`;
      const bar = this.button({ breakdown, key: rate.key, outcome: 'all' }, label, 'insights-bar', rate.queries);
      const track = el('span', 'bar-track');
      track.setAttribute('aria-hidden', 'true');
      const fill = el('span', 'bar-fill current');
      fill.style.width = `${Number.isFinite(num(rate.accuracy)) ? num(rate.accuracy) * 100 : 0}%`;
      const whisker = el('span', 'bar-interval');
      if (Number.isFinite(num(rate.low))) { whisker.style.left = `${num(rate.low) * 100}%`; whisker.style.width = `${(num(rate.high) - num(rate.low)) * 100}%`; } else whisker.hidden = true;
      track.append(fill, whisker);
      if (comparison) {
        const cfill = el('span', 'bar-fill comparison');
        cfill.style.width = `${other && Number.isFinite(num(other.accuracy)) ? num(other.accuracy) * 100 : 0}%`;
        track.append(cfill);
      }
      bar.append(el('span', 'bar-key', rate.key), track, el('span', 'bar-value', `${pct(rate.accuracy)} · n ${rate.queries}`));
      const missButton = this.button({ breakdown, key: rate.key, outcome: 'misses' }, `${noun} ${rate.key}: show the ${misses} misses`, 'insights-misses', misses);
      missButton.textContent = `${misses} ✗`;
      row.append(bar, missButton);
      if (comparison) {
        const d = el('span', `insights-delta${delta > 0 ? ' better' : delta < 0 ? ' worse' : ''}`, formatDeltaPts(delta));
        d.setAttribute('aria-hidden', 'true');   // in the bar's label already
        row.append(d);
      }
      list.append(row);
    }
    return section;
  }

  private missChart(cur: Insights, cmp: Insights | undefined): HTMLElement {
    const t = cur.missTarget;
    const { section, list } = this.section(`Where the points of the ${t.misses} misses land`, 'missTarget');
    for (const where of Object.keys(MISS_LABELS)) {
      const n = t.counts[where as keyof typeof t.counts] ?? 0;
      const other = cmp ? cmp.missTarget.counts[where as keyof typeof t.counts] ?? 0 : 0;
      if (where === 'size-unknown' && n === 0 && other === 0) continue;
      const frac = t.misses ? n / t.misses : 0;
      const otherFrac = cmp?.missTarget.misses ? other / cmp.missTarget.misses : 0;
      const delta = n - other;
      const compared = cmp ? `; comparison model ${other} of ${cmp.missTarget.misses} (${pct(otherFrac)}), delta ${signed(delta)} misses` : '';
      const label = `misses ${MISS_LABELS[where]}: ${n} of ${t.misses} (${pct(frac)})${compared}. Show these ${n} misses`;
      const bar = this.button({ breakdown: 'missTarget', key: where, outcome: 'misses' }, label, 'insights-bar', n);
      const track = el('span', 'bar-track');
      track.setAttribute('aria-hidden', 'true');
      const fill = el('span', 'bar-fill miss');
      fill.style.width = `${frac * 100}%`;
      track.append(fill);
      if (cmp) {
        const cfill = el('span', 'bar-fill comparison');
        cfill.style.width = `${otherFrac * 100}%`;
        track.append(cfill);
      }
      bar.append(el('span', 'bar-key', MISS_LABELS[where]), track, el('span', 'bar-value', `${n}${cmp ? ` · cmp ${other}` : ''}`));
      const row = el('div', 'insights-row');
      row.append(bar);
      if (cmp) {
        // Fewer misses landing here is better.
        const d = el('span', `insights-delta${delta < 0 ? ' better' : delta > 0 ? ' worse' : ''}`, signed(delta));
        d.setAttribute('aria-hidden', 'true');   // in the bar's label already
        row.append(d);
      }
      list.append(row);
    }
    const same = t.sameObject;
    const notes = el('div', 'insights-notes');
    notes.append(el('p', undefined, `${same.queries} queries (${same.misses} misses) point to the same object as a query with another phrase (${same.objects} objects).`));
    if (t.confusions.length) {
      const ul = el('ul', 'insights-confusions');
      ul.setAttribute('aria-label', 'Most frequent confusions: phrase, then the phrase whose box the point landed in');
      for (const c of t.confusions.slice(0, 8)) ul.append(el('li', undefined, `“${c.phrase}” → “${c.landedOn}” × ${c.count}`));
      notes.append(ul);
    }
    section.append(notes);
    return section;
  }

  private histogram(breakdown: 'lMean' | 'lMax', name: string, h: Histogram, cmp?: Histogram): HTMLElement {
    const { section, list } = this.section(`${name} of hits and misses (${cmp ? 'current model and comparison, on the current bins' : 'current model'})`, breakdown);
    list.classList.add('insights-histogram');
    if (!h.edges.length) { list.append(el('p', 'insights-empty', `No ${name} values.`)); return section; }
    const bins = h.hits.length;
    const cHits = (i: number): number => num(cmp?.hits[i]) || 0, cMisses = (i: number): number => num(cmp?.misses[i]) || 0;
    let max = 1;
    for (let i = 0; i < bins; i++) max = Math.max(max, h.hits[i] + h.misses[i], cmp ? cHits(i) + cMisses(i) : 0);
    const range = (i: number): string => `${name} ${num(h.edges[i]).toFixed(3)} to ${num(h.edges[i + 1]).toFixed(3)}`;
    const versus = (i: number, which: 'hits' | 'misses', n: number): string => {
      if (!cmp) return '';
      const other = which === 'hits' ? cHits(i) : cMisses(i);
      return `; comparison model ${other} ${which}, delta ${signed(n - other)}`;
    };
    for (let i = 0; i < bins; i++) {
      const hits = h.hits[i], misses = h.misses[i];
      const column = el('div', 'hist-bin');
      column.style.setProperty('--bin-height', `${((hits + misses) / max) * 100}%`);
      const mb = this.button({ breakdown, key: String(i), outcome: 'misses' }, `${range(i)}: ${misses} misses${versus(i, 'misses', misses)}. Show them`, 'hist-part miss', misses);
      mb.style.flexGrow = String(misses);
      const hb = this.button({ breakdown, key: String(i), outcome: 'hits' }, `${range(i)}: ${hits} hits${versus(i, 'hits', hits)}. Show them`, 'hist-part hit', hits);
      hb.style.flexGrow = String(hits);
      column.append(mb, hb);
      if (!cmp) { list.append(column); continue; }
      // The comparison model's column beside the current one (drawn only: its rows are not this viewer's list).
      const slot = el('div', 'hist-slot');
      slot.dataset.bin = String(i);
      const other = el('div', `hist-bin comparison${cHits(i) + cMisses(i) ? '' : ' empty'}`);
      other.setAttribute('aria-hidden', 'true');
      other.title = `${range(i)}, comparison model: ${cMisses(i)} misses, ${cHits(i)} hits`;
      other.style.setProperty('--bin-height', `${((cHits(i) + cMisses(i)) / max) * 100}%`);
      const om = el('span', 'hist-part miss'), oh = el('span', 'hist-part hit');
      om.style.flexGrow = String(cMisses(i));
      oh.style.flexGrow = String(cHits(i));
      other.append(om, oh);
      slot.append(column, other);
      list.append(slot);
    }
    if (cmp) {
      // Δ misses per bin (current − comparison) under the bins; fewer misses is better.
      const deltas = el('div', 'hist-deltas');
      deltas.setAttribute('aria-hidden', 'true');
      for (let i = 0; i < bins; i++) {
        const d = h.misses[i] - cMisses(i);
        deltas.append(el('span', `insights-delta${d < 0 ? ' better' : d > 0 ? ' worse' : ''}`, d ? signed(d) : '·'));
      }
      section.append(deltas);
    }
    const axis = el('div', 'hist-axis');
    axis.setAttribute('aria-hidden', 'true');
    const legend = el('span', 'hist-legend');
    legend.append(el('span', 'swatch hit'), document.createTextNode(' hits '), el('span', 'swatch miss'), document.createTextNode(' misses'));
    if (cmp) legend.append(document.createTextNode(' · '), el('span', 'swatch comparison'), document.createTextNode(' comparison (right column), Δ misses below'));
    axis.append(el('span', undefined, num(h.edges[0]).toFixed(3)), legend, el('span', undefined, num(h.edges[h.edges.length - 1]).toFixed(3)));
    section.append(axis);
    if (cmp) section.append(this.histogramTable(name, h, cmp));
    return section;
  }

  /** Both models' counts per bin and their deltas, as a table (keyboard: the summary opens it). */
  private histogramTable(name: string, h: Histogram, cmp: Histogram): HTMLElement {
    const details = el('details', 'hist-table');
    const summary = el('summary', undefined, `${name}: both models' numbers per bin`);
    // Enter / Space open it natively; the page's list shortcuts (a document keydown handler) must not see them.
    summary.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') e.stopPropagation(); });
    details.append(summary);
    const table = el('table');
    const head = el('tr');
    for (const c of [`${name} bin`, 'hits', 'misses', 'comparison hits', 'comparison misses', 'Δ hits', 'Δ misses']) {
      const th = el('th', undefined, c);
      th.setAttribute('scope', 'col');
      head.append(th);
    }
    table.append(head);
    h.hits.forEach((hits, i) => {
      const tr = el('tr');
      const ch = num(cmp.hits[i]) || 0, cm = num(cmp.misses[i]) || 0;
      for (const v of [`${num(h.edges[i]).toFixed(3)}–${num(h.edges[i + 1]).toFixed(3)}`, hits, h.misses[i], ch, cm, signed(hits - ch), signed(h.misses[i] - cm)]) {
        tr.append(el('td', undefined, String(v)));
      }
      table.append(tr);
    });
    details.append(table);
    const notes: string[] = [];
    if (cmp.outside) notes.push(`${cmp.outside} comparison values lie outside the current model's range`);
    if (cmp.missing) notes.push(`${cmp.missing} comparison queries without ${name}`);
    if (notes.length) details.append(el('p', 'insights-empty', `${notes.join('; ')}.`));
    return details;
  }
}
