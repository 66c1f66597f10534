// Detail view: image with GT boxes | box mask over the dimmed image | GradCAM overlay with the pointing-game point
// and a colour bar of the raw map values, the phrase's tokens (hover/click shows that token's map), metrics,
// "explain with another phrase" (the user's phrase, scored only against a box the user gives), a user-drawn box
// with its L_mean/L_max (core sampleLosses), synchronised zoom and pan over every pane, and a publication PNG
// export. The panes fill the available width and keep the image's aspect ratio; in a narrow editor they stack.
// When the viewer compares two models (issue 6), a fourth pane shows the comparison (previous) model's GradCAM
// before the current one's, each labelled with its model and with its own ITM score, L_mean, L_max and hit.
// All text from data goes in through textContent.
import { errorMessage } from '../src/core/errors';
import { isHit, sampleLosses } from '../src/core/math';
import type { BoxXYXY } from '../src/core/types';
import type { ExplanationPayload, SampleDetail } from '../src/shared/protocol';
import {
  drawColorBar, drawHeatmapPane, drawImagePane, drawMaskPane, fitSize, formatMapValue, heatLayer, readPalette,
  toImage, type ColormapName, type HeatLayer, type ImageLayer, type MapStyle, type Palette, type PaneView,
} from './render';
import { el } from './dom';
import * as ui from './ui/toolkit';

export interface DetailHost {
  explainPhrase(phrase: string): void;
  backToSample(): void;
  exportPng(base64: string, suggestedName: string): void;
  revealSource(): void;
  stateChanged(): void;
  /** The image finished loading (or failed) after the sample was set. */
  imageSettled(): void;
  /** "Allow this folder" on an image outside the allowed folders (the host adds it and the sample is shown again). */
  allowImageFolder(): void;
}

/** Empties a canvas (optionally resizing it): a pane that shows nothing, never a previous picture. */
function clearCanvas(canvas: HTMLCanvasElement, w = canvas.width, h = canvas.height): void {
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
  delete canvas.dataset.map;
}

const fmt = (v: number | undefined, d = 4) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

/** Scores of a map against boxes: the dataset's (in the payload) or the user's box (computed here, same core code). */
interface Scores { lMean?: number; lMax?: number; total?: number; hit?: boolean; maskEmpty?: boolean; against: 'dataset' | 'yours' | 'none'; }

const GAP = 12;
/** Narrowest pane worth showing side by side; below it the panes stack. */
const MIN_PANE = 240;
export const MAX_ZOOM = 64;

/** Colours of the exported figure: the same on every theme (a paper is white). */
const EXPORT_PALETTE: Palette = {
  foreground: '#1b1b1b', background: '#ffffff', box: '#138a36', drawnBox: '#c77c02', point: '#d7191c', pointHalo: '#ffffff',
  fontFamily: 'Helvetica, Arial, sans-serif',
};

/** One heat pane's parts: canvas, colour bar and the caption that says which map it shows. */
interface HeatParts {
  canvas: HTMLCanvasElement; bar: HTMLCanvasElement; barMin: HTMLElement; barMax: HTMLElement; barWrap: HTMLElement; mapNote: HTMLElement;
  layer?: HeatLayer;
}

export class DetailView {
  readonly element = el('section', 'detail');
  private readonly title = el('h2', 'detail-phrase');
  private readonly origin = el('span', 'phrase-origin');
  private readonly meta = el('div', 'detail-meta');
  private readonly status = el('div', 'detail-status');
  private readonly panes = el('div', 'panes');
  readonly imageCanvas = el('canvas', 'pane-canvas');
  readonly maskCanvas = el('canvas', 'pane-canvas');
  readonly heatCanvas = el('canvas', 'pane-canvas');
  /** The comparison model's map; its figure is in the DOM only while comparing. */
  readonly compareCanvas = el('canvas', 'pane-canvas');
  private readonly compareFigure = el('figure', 'pane compare-pane');
  private readonly compareCaption = el('figcaption');
  private readonly compareNote = el('div', 'pane-note');
  private readonly compareMetrics = el('dl', 'pane-metrics');
  private readonly heatCaption = el('figcaption', undefined, 'GradCAM and pointing-game point');
  private readonly heatMetrics = el('dl', 'pane-metrics');
  private readonly maskCaption = el('figcaption', undefined, 'Box mask');
  private readonly paneNotes: HTMLElement[] = [];
  private readonly heatParts: HeatParts;
  private readonly compareParts: HeatParts;
  private readonly tokens = el('div', 'tokens');
  private readonly metrics = el('dl', 'metrics');
  private readonly drawnResult = el('div', 'drawn-result');
  private readonly opacityInput = el('input', 'opacity');
  private readonly colormapSelect: ui.Select<ColormapName>;
  private readonly mapStyleSelect: ui.Select<MapStyle>;
  private readonly altPhrase: ui.TextInput;
  private readonly boxField: ui.TextInput;
  private readonly backButton: ui.Button;
  private readonly exportButton: ui.Button;
  private readonly zoomLabel = el('span', 'zoom-level', '100 %');
  private readonly drawToggle = el('button', 'tool-toggle', '▭ Draw box');
  private readonly revealButton: HTMLElement;

  private sample: SampleDetail | null = null;
  private explanation: ExplanationPayload | null = null;
  /** The comparison model (label "previous"/"comparison" + name), or null when not comparing. */
  private comparisonModel: { label: string; name: string } | null = null;
  private comparison: ExplanationPayload | null = null;
  private image: HTMLImageElement | undefined;
  private imageReady = false;
  private imageFailed = false;
  private tokenIndex: number | null = null;   // pinned token map (click); null = mean over tokens
  private hoverToken: number | null = null;
  private drawnBox: BoxXYXY | undefined;
  private dragStart: { x: number; y: number } | undefined;
  /** Shared by every pane: zoom (1 = the whole image fits) and the image point at the panes' centre. */
  private zoom = 1;
  private center: { x: number; y: number } | undefined;
  private drawTool = false;
  private layoutColumns = 0;

  constructor(private readonly host: DetailHost, initial: { opacity: number; colormap: ColormapName; altPhrase: string }) {
    this.element.setAttribute('aria-label', 'Sample detail');
    const head = el('div', 'detail-head');
    const titleRow = el('div', 'detail-title');
    this.origin.hidden = true;
    titleRow.append(this.title, this.origin);
    const reveal = ui.button('Show in file', () => host.revealSource(), { ariaLabel: 'Show this entry in the annotation file' });
    reveal.element.classList.add('reveal');
    this.revealButton = reveal.element;
    head.append(titleRow, reveal.element, this.meta);

    const controls = el('div', 'detail-controls');
    const opacityLabel = el('label', 'control', 'Opacity ');
    this.opacityInput.type = 'range';
    this.opacityInput.min = '0'; this.opacityInput.max = '1'; this.opacityInput.step = '0.05';
    this.opacityInput.value = String(initial.opacity);
    this.opacityInput.setAttribute('aria-label', 'Heatmap opacity');
    this.opacityInput.addEventListener('input', () => { this.redrawHeat(); host.stateChanged(); });
    opacityLabel.append(this.opacityInput);
    this.colormapSelect = ui.dropdown<ColormapName>([{ value: 'jet', label: 'jet' }, { value: 'viridis', label: 'viridis' }],
      { ariaLabel: 'Colormap', value: initial.colormap, onChange: () => { this.redrawHeat(); host.stateChanged(); } });
    this.mapStyleSelect = ui.dropdown<MapStyle>([{ value: 'smooth', label: 'bicubic' }, { value: 'grid', label: 'grid cells' }],
      { ariaLabel: 'Map drawn as: bicubic to the image size (as the pointing game) or the raw grid cells', value: 'smooth', onChange: () => this.redrawHeat() });
    this.exportButton = ui.button('Export PNG', () => this.export(), { ariaLabel: 'Export the figure (panes, titles, phrase, metrics, colour bar) as a PNG at 2×' });
    const pair = (label: string, control: HTMLElement) => { const p = el('span', 'control-pair'); p.append(el('span', 'control-label', label), control); return p; };
    controls.append(opacityLabel, pair('Colormap', this.colormapSelect.element), pair('Map', this.mapStyleSelect.element), this.zoomControls(), this.exportButton.element);

    const captions = ['Image and ground-truth boxes', 'Box mask', 'GradCAM and pointing-game point'];
    const makeHeatParts = (canvas: HTMLCanvasElement): HeatParts => {
      const barWrap = el('div', 'colorbar');
      const bar = el('canvas', 'colorbar-canvas');
      const barMin = el('span', 'colorbar-min'), barMax = el('span', 'colorbar-max');
      const mapNote = el('span', 'map-note');
      barWrap.append(barMin, bar, barMax);
      barWrap.setAttribute('role', 'img');
      barWrap.hidden = true;
      return { canvas, bar, barMin, barMax, barWrap, mapNote };
    };
    this.heatParts = makeHeatParts(this.heatCanvas);
    this.compareParts = makeHeatParts(this.compareCanvas);
    [this.imageCanvas, this.maskCanvas, this.heatCanvas].forEach((canvas, i) => {
      const fig = el('figure', 'pane');
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', captions[i]);
      const note = el('div', 'pane-note');
      note.setAttribute('role', 'status');
      this.paneNotes.push(note);
      const caption = i === 2 ? this.heatCaption : i === 1 ? this.maskCaption : el('figcaption', undefined, captions[i]);
      fig.append(canvas, note, caption);
      if (i === 2) { fig.append(this.heatParts.mapNote, this.heatParts.barWrap, this.heatMetrics); fig.dataset.model = 'current'; }
      this.panes.append(fig);
    });
    this.compareCanvas.setAttribute('role', 'img');
    this.compareNote.setAttribute('role', 'status');
    this.compareFigure.dataset.model = 'comparison';
    for (const dl of [this.heatMetrics, this.compareMetrics]) dl.hidden = true;
    this.compareFigure.append(
      this.compareCanvas, this.compareNote, this.compareCaption, this.compareParts.mapNote, this.compareParts.barWrap, this.compareMetrics);
    this.panes.tabIndex = 0;
    this.panes.setAttribute('role', 'group');
    this.panes.setAttribute('aria-label', 'Image panes, zoomed and panned together: + and − zoom, 0 resets, arrow keys pan, P centres on the point');
    this.panes.addEventListener('keydown', (e) => { if (this.handlePaneKey(e)) { e.preventDefault(); e.stopPropagation(); } });
    for (const c of [this.imageCanvas, this.maskCanvas, this.heatCanvas, this.compareCanvas]) this.enablePointer(c);

    this.tokens.setAttribute('role', 'toolbar');
    this.tokens.setAttribute('aria-label', 'Tokens: hover or click for that token’s map');

    const alt = el('div', 'alt-phrase');
    this.altPhrase = ui.textField({ ariaLabel: 'Explain with another phrase', placeholder: 'your phrase on this image…', value: initial.altPhrase, size: 30 });
    this.altPhrase.onEnter((v) => this.submitAlt(v));
    this.altPhrase.onInput(() => host.stateChanged());
    const altButton = ui.button('Explain phrase', () => this.submitAlt(this.altPhrase.value), { appearance: 'primary' });
    this.backButton = ui.button('Back to sample phrase', () => host.backToSample());
    this.backButton.element.hidden = true;
    alt.append(this.altPhrase.element, altButton.element, this.backButton.element);

    const drawn = el('div', 'drawn');
    this.boxField = ui.textField({ ariaLabel: 'Box to score, x1 y1 x2 y2 in image pixels (or Draw box and drag on a pane)', placeholder: 'x1 y1 x2 y2 (or draw)', size: 22 });
    this.boxField.onEnter((v) => this.submitBoxText(v));
    this.drawnResult.setAttribute('role', 'status');
    drawn.append(el('span', 'control-label', 'Your box'), this.boxField.element, this.drawnResult);

    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    this.element.append(head, controls, this.status, this.panes, this.tokens, this.metrics, alt, drawn);
    new ResizeObserver(() => this.redrawAll()).observe(this.panes);
    this.showEmpty('Select a sample to see its explanation.');
  }

  private zoomControls(): HTMLElement {
    const group = el('div', 'zoom-controls');
    group.setAttribute('role', 'toolbar');
    group.setAttribute('aria-label', 'Zoom and pan (wheel or pinch zooms, drag pans, double-click resets)');
    const b = (text: string, label: string, action: () => void) => {
      const x = el('button', 'zoom-button', text);
      x.type = 'button';
      x.setAttribute('aria-label', label);
      x.title = label;
      x.addEventListener('click', action);
      return x;
    };
    this.zoomLabel.setAttribute('role', 'status');
    this.zoomLabel.setAttribute('aria-live', 'polite');
    this.zoomLabel.setAttribute('aria-label', 'Zoom level');
    this.drawToggle.type = 'button';
    this.drawToggle.setAttribute('aria-pressed', 'false');
    this.drawToggle.title = 'Drag on a pane to draw a box to score (Shift+drag draws in any mode)';
    this.drawToggle.addEventListener('click', () => this.setDrawTool(!this.drawTool));
    group.append(b('−', 'Zoom out (−)', () => this.zoomBy(0.5)), this.zoomLabel, b('+', 'Zoom in (+)', () => this.zoomBy(2)),
      b('Fit', 'Fit the whole image (0)', () => this.resetZoom()), b('Point', 'Centre on the pointing-game point (P)', () => this.centerOnPoint()), this.drawToggle);
    return group;
  }

  private setDrawTool(on: boolean): void {
    this.drawTool = on;
    this.drawToggle.setAttribute('aria-pressed', String(on));
    this.panes.classList.toggle('drawing', on);
  }

  /** "Show in file" only where there is a file entry to show (not in the Explain phrase panel). */
  set revealAvailable(on: boolean) { this.revealButton.hidden = !on; }

  get opacity(): number { return Number(this.opacityInput.value); }
  get colormap(): ColormapName { return this.colormapSelect.value; }
  set colormap(name: ColormapName) { this.colormapSelect.value = name; this.redrawHeat(); }
  get altPhraseText(): string { return this.altPhrase.value; }
  focusAltPhrase(): void { this.altPhrase.focus(); }
  get current(): { sample: SampleDetail | null; explanation: ExplanationPayload | null } {
    return { sample: this.sample, explanation: this.explanation };
  }
  /** The zoom factor shared by the panes (1: the whole image fits). */
  get zoomLevel(): number { return this.zoom; }

  showEmpty(message: string): void {
    this.sample = null; this.explanation = null; this.image = undefined;
    for (const c of [this.imageCanvas, this.maskCanvas, this.heatCanvas, this.compareCanvas]) clearCanvas(c);
    this.element.classList.add('empty');
    this.title.textContent = '';
    this.origin.hidden = true;
    this.meta.textContent = '';
    this.setStatus(message, 'empty');
    this.tokens.replaceChildren();
    this.metrics.replaceChildren();
    this.comparison = null;
    this.renderPaneMetrics();
    this.renderColorBars();
  }

  /** Compare with a second model (its label, name and why its ITM score is not shown), or stop comparing (null). */
  setComparisonModel(model: { label: string; name: string; itmNote?: string } | null): void {
    const same = model?.label === this.comparisonModel?.label && model?.name === this.comparisonModel?.name;
    this.comparisonModel = model;
    this.comparisonItmNote = model?.itmNote ?? '';
    if (!same) this.comparison = null;
    if (model) {
      this.compareCaption.textContent = `GradCAM · ${model.label}: ${model.name}`;
      this.compareCanvas.setAttribute('aria-label', `GradCAM of the ${model.label} model ${model.name}, with its pointing-game point`);
      if (!this.compareFigure.isConnected) this.panes.insertBefore(this.compareFigure, this.heatCanvas.parentElement);
    } else {
      this.compareFigure.remove();
    }
    this.heatCaption.textContent = model ? `GradCAM · current: ${this.currentModelName}` : 'GradCAM and pointing-game point';
    this.heatCanvas.setAttribute('aria-label', model ? `GradCAM of the current model ${this.currentModelName}, with its pointing-game point` : 'GradCAM and pointing-game point');
    this.renderPaneMetrics();
    this.redrawAll();
  }

  /** The current model's name, for the labels while comparing. */
  currentModelName = '';
  /** Why the current model's ITM score is not shown ('' = it is shown). */
  itmNote = '';
  /** The same for the comparison model (an untrained ITM head's logit means nothing there either). */
  private comparisonItmNote = '';

  /** Whether `x`'s ITM score is hidden: its model's card says the ITM head is untrained. */
  private itmHidden(x: ExplanationPayload): boolean {
    return x === this.explanation ? this.itmNote !== '' : x === this.comparison ? this.comparisonItmNote !== '' : false;
  }

  get comparing(): boolean { return this.comparisonModel !== null; }

  /** The comparison model's explanation of what is shown (null: none yet), or why there is none. */
  setComparisonExplanation(payload: ExplanationPayload | null, note?: { text: string; error: boolean }): void {
    this.comparison = payload;
    this.compareNote.textContent = note?.text ?? '';
    this.compareNote.classList.toggle('error', note?.error ?? false);
    this.compareNote.setAttribute('role', note?.error ? 'alert' : 'status');
    this.renderPaneMetrics();
    this.redrawHeat();
  }

  setStatus(message: string, kind: 'loading' | 'error' | 'empty' | 'ok'): void {
    this.status.replaceChildren();
    this.status.dataset.kind = kind;
    this.status.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    if (kind === 'loading') this.status.append(ui.progressRing(message));
    if (message) this.status.append(el('span', undefined, message));
  }

  setSample(sample: SampleDetail): void {
    this.element.classList.remove('empty');
    const sameImage = this.sample?.imagePath === sample.imagePath;
    this.sample = sample;
    this.explanation = null;
    this.drawnBox = undefined;
    this.boxField.value = '';
    this.tokenIndex = this.hoverToken = null;
    this.drawnResult.textContent = '';
    delete this.drawnResult.dataset.lMean;
    delete this.drawnResult.dataset.lMax;
    this.renderTitle();
    this.tokens.replaceChildren();
    this.metrics.replaceChildren();
    this.comparison = null;
    this.compareNote.textContent = '';
    this.renderPaneMetrics();
    // A new picture starts fitted; another phrase on the same picture keeps the user's zoom.
    if (!sameImage) { this.zoom = 1; this.center = undefined; this.updateZoomLabel(); }
    this.imageReady = false;
    this.imageFailed = false;
    this.image = undefined;
    // Nothing of the previous sample may stay on screen: every pane starts empty (issue 12 item 5).
    for (const c of [this.imageCanvas, this.maskCanvas, this.heatCanvas, this.compareCanvas]) clearCanvas(c);
    this.paneNotes.forEach((n) => { n.replaceChildren(); n.classList.remove('error'); });
    if (!sample.imageUri) {
      this.showImageUnavailable(sample);
    } else {
      this.setImageState('loading');
      const img = new Image();
      img.crossOrigin = 'anonymous';   // keeps the canvas exportable (webview resources are served with CORS)
      img.decoding = 'async';
      img.onload = () => { if (this.image === img) { this.imageReady = true; this.setImageState('loaded'); this.redrawAll(); this.host.imageSettled(); } };
      img.onerror = () => {
        if (this.image !== img) return;
        this.imageFailed = true;
        this.setImageState('failed');
        this.paneNotes[0].textContent = `Could not load image ${sample.imagePath}`;
        this.paneNotes[0].classList.add('error');
        this.redrawAll();
        this.host.imageSettled();
      };
      this.image = img;
      img.src = sample.imageUri;
    }
    this.redrawAll();
  }

  /** The title: the dataset's phrase, or the user's own phrase, labelled as such with the dataset's beside it. */
  private renderTitle(): void {
    const s = this.sample;
    if (!s) return;
    const e = this.explanation;
    const yours = this.isUserPhrase(e);
    this.title.textContent = yours && e ? e.phrase : s.phrase;
    this.origin.hidden = !yours;
    this.origin.textContent = 'your phrase';
    this.origin.title = 'A phrase you typed: it is not in the dataset and is scored only against a box you give';
    this.element.classList.toggle('user-phrase', yours);
    this.meta.textContent = [yours ? `dataset phrase: ${s.phrase}` : '', s.split ? `split ${s.split}` : '', `#${s.index}`, s.entry,
      `${s.boxes.length} box${s.boxes.length === 1 ? '' : 'es'}`].filter(Boolean).join(' · ');
  }

  /** An explanation of a phrase the user typed on a dataset sample (not the sample's own phrase). */
  private isUserPhrase(e: ExplanationPayload | null): boolean { return e !== null && e.index === null; }

  /** Which image the image pane shows: 'missing' and 'outside' keep it empty with the reason beside it. */
  private setImageState(state: 'loading' | 'loaded' | 'failed' | 'missing' | 'outside'): void {
    const figure = this.imageCanvas.parentElement;
    if (figure) figure.dataset.image = state;
  }

  /** The empty image pane's note: the file and why it is not shown, with "Allow this folder" when it is outside. */
  private showImageUnavailable(sample: SampleDetail): void {
    const note = this.paneNotes[0];
    const outside = sample.imageOutside;
    this.setImageState(outside ? 'outside' : 'missing');
    note.classList.add('error');
    note.append(el('strong', 'image-reason', outside ? 'Outside the allowed folders' : 'Image not available'));
    if (outside) {
      const line = el('span', 'image-folder-line', 'Folder ');
      line.append(el('code', 'image-folder', outside.folder));
      note.append(line);
    }
    note.append(el('span', 'image-problem', sample.imageProblem ?? `Image not available: ${sample.imagePath}`));
    if (outside?.canAllow) {
      const allow = ui.button('Allow this folder', () => { allow.setDisabled(true); this.host.allowImageFolder(); },
        { ariaLabel: `Allow images from ${outside.folder} in this viewer until it closes`, title: `Show images from ${outside.folder} in this viewer (not saved)` });
      allow.element.classList.add('allow-folder');
      note.append(allow.element);
    }
  }

  setExplanation(payload: ExplanationPayload | null): void {
    this.explanation = payload;
    this.tokenIndex = this.hoverToken = null;
    this.backButton.element.hidden = !payload || payload.index !== null;
    this.renderTitle();
    this.renderTokens();
    this.renderMetrics();
    this.renderPaneMetrics();
    this.updateDrawnResult();
    this.redrawAll();
  }

  /**
   * The boxes an explanation is scored against: the sample's own for its phrase; for the user's phrase only the
   * user's box (the dataset's boxes belong to another phrase).
   */
  private scoringBoxes(e: ExplanationPayload | null): readonly BoxXYXY[] {
    if (this.isUserPhrase(e)) return this.drawnBox ? [this.drawnBox] : [];
    return this.sample?.boxes ?? [];
  }

  private scores(e: ExplanationPayload | null): Scores {
    if (!e) return { against: 'none' };
    if (!this.isUserPhrase(e)) return { lMean: e.lMean, lMax: e.lMax, total: e.total, hit: e.hit, maskEmpty: e.maskEmpty, against: e.lMax === undefined ? 'none' : 'dataset' };
    const b = this.drawnBox;
    if (!b) return { against: 'none' };
    const l = sampleLosses(e.gradcam, e.grid, [b], e.width, e.height);
    return { ...l, hit: isHit(e.point, [b]), against: 'yours' };
  }

  private size(): { width: number; height: number } | undefined {
    if (this.explanation) return { width: this.explanation.width, height: this.explanation.height };
    if (this.image && this.imageReady) return { width: this.image.naturalWidth, height: this.image.naturalHeight };
    if (this.sample?.width && this.sample.height) return { width: this.sample.width, height: this.sample.height };
    return undefined;
  }

  private paneCount(): number { return this.comparing ? 4 : 3; }

  /** Columns that fit: all panes in a row, else two, else a vertical stack; each pane as wide as a column. */
  private paneWidth(): { columns: number; width: number } {
    const n = this.paneCount();
    const avail = Math.max(120, this.panes.clientWidth);
    for (const columns of n === 4 ? [4, 2] : [3, 2]) {
      const width = Math.floor((avail - GAP * (columns - 1)) / columns);
      if (width >= MIN_PANE) return { columns, width };
    }
    return { columns: 1, width: Math.floor(avail) };
  }

  /** The fitted (zoom 1) CSS size of every pane: the column width, the image's aspect ratio, at most 80 % of the window's height. */
  private paneSize(): { w: number; h: number; scale: number } | undefined {
    const s = this.size();
    if (!s) return undefined;
    const { width } = this.paneWidth();
    return fitSize(s.width, s.height, width, Math.max(200, Math.round(window.innerHeight * 0.8)));
  }

  /** The shared view: zoom about `center` (image pixels), clamped so the image always covers the pane when zoomed in. */
  private view(dpr = window.devicePixelRatio || 1): PaneView | undefined {
    const fit = this.paneSize(), s = this.size();
    if (!fit || !s) return undefined;
    const scale = fit.scale * this.zoom;
    const half = { x: fit.w / 2 / scale, y: fit.h / 2 / scale };
    const c = this.center ?? { x: s.width / 2, y: s.height / 2 };
    const cx = Math.min(Math.max(c.x, half.x), s.width - half.x), cy = Math.min(Math.max(c.y, half.y), s.height - half.y);
    this.center = { x: cx, y: cy };
    return { cssW: fit.w, cssH: fit.h, dpr, scale, tx: fit.w / 2 - scale * cx, ty: fit.h / 2 - scale * cy };
  }

  private imageLayer(): ImageLayer | undefined {
    if (!this.image || !this.imageReady) return undefined;
    return { source: this.image, width: this.image.naturalWidth, height: this.image.naturalHeight };
  }

  redrawAll(): void {
    if (!this.sample) return;
    const { columns } = this.paneWidth();
    if (columns !== this.layoutColumns) {
      this.layoutColumns = columns;
      this.panes.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
      this.panes.dataset.columns = String(columns);
    }
    const v = this.view(), s = this.size();
    if (!v || !s) {
      // No size known yet (no image, no explanation): the panes stay empty, at a placeholder size.
      const w = Math.max(80, Math.min(320, this.paneWidth().width));
      for (const c of [this.imageCanvas, this.maskCanvas, this.heatCanvas, this.compareCanvas]) clearCanvas(c, w, Math.round(w * 0.75));
      this.renderColorBars();
      return;
    }
    const palette = readPalette();
    const image = this.imageLayer();
    const userPhrase = this.isUserPhrase(this.explanation);
    if (image) drawImagePane(this.imageCanvas, v, image, userPhrase ? [] : this.sample.boxes, palette, this.drawnBox);
    else clearCanvas(this.imageCanvas, Math.round(v.cssW * v.dpr), Math.round(v.cssH * v.dpr));
    this.drawMask(this.maskCanvas, v, image, s, palette);
    this.redrawHeat();
  }

  /** The mask of the boxes this explanation is scored against; none for the user's phrase without a box of the user's. */
  private drawMask(
    canvas: HTMLCanvasElement, v: PaneView, image: ImageLayer | undefined, s: { width: number; height: number }, palette: Palette,
    background?: string,
  ): void {
    const boxes = this.scoringBoxes(this.explanation);
    const yours = this.isUserPhrase(this.explanation);
    this.maskCaption.textContent = yours ? (this.drawnBox ? 'Box mask · your box' : 'Box mask · no box to score against') : 'Box mask';
    this.paneNotes[1].textContent = yours && !this.drawnBox ? 'No box to score your phrase against: draw one (▭ Draw box) or type x1 y1 x2 y2 below.' : '';
    drawMaskPane(canvas, v, image, s.width, s.height, boxes, palette, background);
  }

  private redrawHeat(): void {
    this.drawHeat(this.heatParts, this.explanation);
    if (this.comparing) {
      // A token map only where the comparison model tokenised the phrase the same way; else its mean map.
      const c = this.comparison, e = this.explanation;
      const token = this.hoverToken ?? this.tokenIndex;
      const sameToken = token !== null && c && e && c.tokens[token] === e.tokens[token] ? token : null;
      this.drawHeat(this.compareParts, c, sameToken);
    }
    this.renderColorBars();
  }

  /** The map a heat pane shows (mean over tokens or one token's) and what to call it. */
  private mapOf(e: ExplanationPayload, tokenOverride?: number | null): { map: number[]; token: number | null; label: string } {
    const token = tokenOverride !== undefined ? tokenOverride : this.hoverToken ?? this.tokenIndex;
    if (token === null || !e.tokenGradcam[token]) return { map: e.gradcam, token: null, label: 'all tokens (mean map)' };
    return { map: e.tokenGradcam[token], token, label: `token “${e.tokens[token]}” only` };
  }

  private drawHeat(
    parts: HeatParts, e: ExplanationPayload | null, tokenOverride?: number | null,
    into?: { canvas: HTMLCanvasElement; view: PaneView; palette: Palette; background: string },
  ): void {
    const v = into?.view ?? this.view();
    const s = this.size();
    const canvas = into?.canvas ?? parts.canvas;
    if (!v || !e || !s) {
      if (!into) {
        if (v) clearCanvas(canvas, Math.round(v.cssW * v.dpr), Math.round(v.cssH * v.dpr));
        delete canvas.dataset.map;
        parts.layer = undefined;
        parts.mapNote.textContent = '';
      }
      return;
    }
    const { map, token, label } = this.mapOf(e, tokenOverride);
    const layer = heatLayer(map, e.grid, e.width, e.height, this.mapStyleSelect.value, this.colormap);
    drawHeatmapPane(
      canvas, v, this.imageLayer(), layer, s.width, s.height, { opacity: this.opacity, point: token === null ? e.point : undefined },
      into?.palette ?? readPalette(), this.drawnBox, this.scoringBoxes(e), into?.background);
    if (into) return;
    parts.layer = layer;
    canvas.dataset.map = token === null ? 'mean' : `token ${token}`;
    parts.mapNote.textContent = `Map: ${label}${token === null ? '' : ' (no pointing-game point)'}`;
    parts.mapNote.dataset.map = token === null ? 'mean' : `token ${token}`;
    parts.mapNote.title = parts.mapNote.textContent;
  }

  /** The colour bar under each heat pane: the colormap from the shown map's minimum to its maximum, raw GradCAM values. */
  private renderColorBars(): void {
    for (const parts of [this.heatParts, this.compareParts]) {
      const layer = parts.layer;
      const visible = !!layer && !!this.sample && (parts === this.heatParts ? !!this.explanation : !!this.comparison);
      parts.barWrap.hidden = !visible;
      if (!visible || !layer) continue;
      const w = Math.max(60, Math.min(parts.canvas.clientWidth || 200, 400) - 120);
      drawColorBar(parts.bar, this.colormap, w, 10, window.devicePixelRatio || 1);
      parts.barMin.textContent = formatMapValue(layer.min);
      parts.barMax.textContent = formatMapValue(layer.max);
      parts.barWrap.dataset.min = String(layer.min);
      parts.barWrap.dataset.max = String(layer.max);
      parts.barWrap.setAttribute('aria-label', `Colour scale: raw GradCAM ${formatMapValue(layer.min)} (bottom of ${this.colormap}) to ${formatMapValue(layer.max)} (top)`);
      parts.barWrap.title = 'Raw GradCAM values of the map shown: its minimum to its maximum';
    }
  }

  /** While comparing: ITM score, L_mean, L_max and hit under each of the two maps. */
  private renderPaneMetrics(): void {
    const fill = (dl: HTMLElement, e: ExplanationPayload | null) => {
      dl.replaceChildren();
      dl.hidden = !this.comparing;
      if (!this.comparing || !e) return;
      const add = (name: string, value: string, cls?: string) => {
        const dt = el('dt', undefined, name), dd = el('dd', cls, value);
        dd.dataset.metric = name;
        dl.append(dt, dd);
      };
      const sc = this.scores(e);
      if (!this.itmHidden(e)) add('ITM score', fmt(e.score, 3));
      add('L_mean', fmt(sc.lMean));
      add('L_max', fmt(sc.lMax));
      add('hit', sc.hit === undefined ? '–' : sc.hit ? '✓ hit' : '✗ miss', sc.hit === undefined ? undefined : sc.hit ? 'hit' : 'miss');
      add('point', `(${e.point.x}, ${e.point.y})`);
    };
    fill(this.heatMetrics, this.explanation);
    fill(this.compareMetrics, this.comparison);
    this.heatMetrics.setAttribute('aria-label', `Metrics of the current model ${this.currentModelName}`);
    if (this.comparisonModel) this.compareMetrics.setAttribute('aria-label', `Metrics of the ${this.comparisonModel.label} model ${this.comparisonModel.name}`);
  }

  /** The comparison model's metrics as displayed beside its map (for the host's "shown" report). */
  displayedComparison(): { model: string; label: string; metrics: Record<string, string> } | undefined {
    if (!this.comparisonModel) return undefined;
    const metrics: Record<string, string> = {};
    for (const dd of this.compareMetrics.querySelectorAll<HTMLElement>('dd')) metrics[dd.dataset.metric ?? ''] = dd.textContent ?? '';
    if (this.compareNote.textContent) metrics.note = this.compareNote.textContent;
    return { model: this.comparisonModel.name, label: this.comparisonModel.label, metrics };
  }

  private renderTokens(): void {
    const e = this.explanation;
    this.tokens.replaceChildren();
    if (!e) return;
    const all = el('button', 'token all', 'all tokens');
    all.setAttribute('aria-pressed', 'true');
    all.addEventListener('click', () => { this.tokenIndex = null; this.syncTokens(); this.redrawHeat(); });
    this.tokens.append(all);
    e.tokens.forEach((t, i) => {
      const b = el('button', 'token', t);
      b.dataset.token = String(i);
      b.setAttribute('aria-pressed', 'false');
      b.setAttribute('aria-label', `map of token ${t}`);
      const show = () => { this.hoverToken = i; this.redrawHeat(); };
      const hide = () => { if (this.hoverToken === i) { this.hoverToken = null; this.redrawHeat(); } };
      b.addEventListener('mouseenter', show);
      b.addEventListener('mouseleave', hide);
      b.addEventListener('focus', show);
      b.addEventListener('blur', hide);
      b.addEventListener('click', () => { this.tokenIndex = this.tokenIndex === i ? null : i; this.hoverToken = null; this.syncTokens(); this.redrawHeat(); });
      this.tokens.append(b);
    });
  }

  private syncTokens(): void {
    for (const b of this.tokens.querySelectorAll<HTMLButtonElement>('button')) {
      const i = b.dataset.token === undefined ? null : Number(b.dataset.token);
      b.setAttribute('aria-pressed', String(i === this.tokenIndex));
    }
  }

  private renderMetrics(): void {
    this.metrics.replaceChildren();
    const e = this.explanation;
    if (!e) return;
    const add = (name: string, value: string, cls?: string) => {
      const dt = el('dt', undefined, name), dd = el('dd', cls, value);
      dd.dataset.metric = name;
      this.metrics.append(dt, dd);
    };
    const sc = this.scores(e);
    if (e.index === null) add('phrase', e.phrase);
    if (this.itmNote) add('ITM', this.itmNote, 'itm-note');
    else { add('ITM score', fmt(e.score, 3)); add('ITM probability', fmt(e.itmProbability, 3)); }
    add('L_mean', fmt(sc.lMean));
    add('L_max', fmt(sc.lMax));
    add('hit', sc.hit === undefined ? '–' : sc.hit ? '✓ hit' : '✗ miss', sc.hit === undefined ? undefined : sc.hit ? 'hit' : 'miss');
    add('point', `(${e.point.x}, ${e.point.y})`);
    if (this.isUserPhrase(e)) {
      add('scored against', sc.against === 'yours' ? 'your box' : 'no box to score against: draw one or type x1 y1 x2 y2', sc.against === 'yours' ? undefined : 'note');
    }
    if (sc.maskEmpty) add('note', 'the box mask is empty (degenerate box)');
  }

  get imageState(): 'loaded' | 'loading' | 'failed' | 'none' {
    if (!this.sample?.imageUri) return 'none';
    return this.imageReady ? 'loaded' : this.imageFailed ? 'failed' : 'loading';
  }

  /** The metrics as displayed (name → text), for the host's "shown" report. */
  displayedMetrics(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const dd of this.metrics.querySelectorAll<HTMLElement>(':scope > dd')) out[dd.dataset.metric ?? ''] = dd.textContent ?? '';
    return out;
  }

  private submitAlt(phrase: string): void {
    if (!phrase.trim()) { this.altPhrase.setInvalid('Type a phrase first'); return; }
    this.altPhrase.setInvalid(null);
    this.host.explainPhrase(phrase.trim());
  }

  private submitBoxText(text: string): void {
    const nums = text.split(/[\s,]+/).filter(Boolean).map(Number);
    if (nums.length !== 4 || nums.some((n) => !Number.isFinite(n))) { this.boxField.setInvalid('Write four numbers: x1 y1 x2 y2'); return; }
    this.boxField.setInvalid(null);
    this.setDrawnBox([nums[0], nums[1], nums[2], nums[3]]);
  }

  setDrawnBox(box: BoxXYXY | undefined): void {
    this.drawnBox = box
      ? [Math.min(box[0], box[2]), Math.min(box[1], box[3]), Math.max(box[0], box[2]), Math.max(box[1], box[3])] : undefined;
    if (this.drawnBox) this.boxField.value = this.drawnBox.map((v) => Math.round(v)).join(' ');
    this.updateDrawnResult();
    // The user's phrase is scored against this box: its metrics change with it.
    if (this.isUserPhrase(this.explanation)) { this.renderMetrics(); this.renderPaneMetrics(); }
    this.redrawAll();
  }

  private updateDrawnResult(): void {
    const e = this.explanation, b = this.drawnBox;
    if (!b) { this.drawnResult.textContent = ''; return; }
    if (!e) { this.drawnResult.textContent = 'explain the sample first to score a box'; return; }
    const l = sampleLosses(e.gradcam, e.grid, [b], e.width, e.height);
    const inside = isHit(e.point, [b]);
    this.drawnResult.textContent = `L_mean ${fmt(l.lMean)} · L_max ${fmt(l.lMax)} · total ${fmt(l.total)} · point ${inside ? 'inside' : 'outside'}${l.maskEmpty ? ' · empty box' : ''}`;
    this.drawnResult.dataset.lMean = String(l.lMean);
    this.drawnResult.dataset.lMax = String(l.lMax);
  }

  // ---- zoom and pan (one view for every pane) ------------------------------------------------------------------

  private updateZoomLabel(): void {
    this.zoomLabel.textContent = `${Math.round(this.zoom * 100)} %`;
    this.panes.dataset.zoom = String(this.zoom);
  }

  /** Zoom by `factor` keeping the image point under CSS position `anchor` (pane coordinates; default: the centre) fixed. */
  zoomBy(factor: number, anchor?: { x: number; y: number }): void {
    const v = this.view();
    const next = Math.min(MAX_ZOOM, Math.max(1, this.zoom * factor));
    if (!v || next === this.zoom) return;
    const a = anchor ?? { x: v.cssW / 2, y: v.cssH / 2 };
    const p = toImage(v, a.x, a.y);
    const scale = (v.scale / this.zoom) * next;
    // The anchored image point stays under the anchor: cssW/2 − scale·cx = a.x − scale·p.x.
    this.center = { x: p.x + (v.cssW / 2 - a.x) / scale, y: p.y + (v.cssH / 2 - a.y) / scale };
    this.zoom = next;
    this.updateZoomLabel();
    this.redrawAll();
  }

  resetZoom(): void { this.zoom = 1; this.center = undefined; this.updateZoomLabel(); this.redrawAll(); }

  private panBy(dx: number, dy: number): void {
    const v = this.view();
    if (!v || !this.center) return;
    this.center = { x: this.center.x - dx / v.scale, y: this.center.y - dy / v.scale };
    this.redrawAll();
  }

  /** Centres the panes on the pointing-game point (as far as the image edge allows). */
  centerOnPoint(): void {
    const e = this.explanation;
    if (!e) return;
    this.center = { x: e.point.x + 0.5, y: e.point.y + 0.5 };
    this.redrawAll();
  }

  /** + / − / 0 anywhere outside text fields (the app routes them here). */
  handleZoomKey(e: KeyboardEvent): boolean {
    if (!this.sample) return false;
    switch (e.key) {
      case '+': case '=': this.zoomBy(2); return true;
      case '-': case '_': case '−': this.zoomBy(0.5); return true;
      case '0': this.resetZoom(); return true;
      default: return false;
    }
  }

  /** Keys while the panes have focus: zoom keys, arrows pan, P centres on the point. */
  private handlePaneKey(e: KeyboardEvent): boolean {
    if (e.ctrlKey || e.metaKey || e.altKey) return false;
    if (this.handleZoomKey(e)) return true;
    const step = 40;
    switch (e.key) {
      case 'ArrowLeft': this.panBy(step, 0); return true;
      case 'ArrowRight': this.panBy(-step, 0); return true;
      case 'ArrowUp': this.panBy(0, step); return true;
      case 'ArrowDown': this.panBy(0, -step); return true;
      case 'p': case 'P': this.centerOnPoint(); return true;
      default: return false;
    }
  }

  /**
   * Pointer input on a pane: wheel or pinch zooms about the pointer, drag pans, double-click fits; with "Draw box"
   * on (or Shift held) a drag draws the box to score. In a stacked layout a plain wheel scrolls the page and
   * Ctrl/⌘+wheel (a trackpad pinch) zooms.
   */
  private enablePointer(canvas: HTMLCanvasElement): void {
    const local = (ev: { clientX: number; clientY: number }) => {
      const r = canvas.getBoundingClientRect();
      return { x: ev.clientX - r.left - canvas.clientLeft, y: ev.clientY - r.top - canvas.clientTop };
    };
    const pointers = new Map<number, { x: number; y: number }>();
    let panFrom: { x: number; y: number } | undefined;
    let pinch: { distance: number } | undefined;
    canvas.addEventListener('wheel', (ev) => {
      if (!this.sample) return;
      if (this.layoutColumns === 1 && !ev.ctrlKey && !ev.metaKey) return;
      ev.preventDefault();
      const factor = Math.exp(-ev.deltaY * (ev.ctrlKey ? 0.01 : 0.002));
      this.zoomBy(factor, local(ev));
    }, { passive: false });
    canvas.addEventListener('dblclick', () => this.resetZoom());
    canvas.addEventListener('pointerdown', (ev) => {
      if (!this.sample || ev.button !== 0) return;
      canvas.setPointerCapture(ev.pointerId);
      pointers.set(ev.pointerId, local(ev));
      if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) };
        this.dragStart = undefined; panFrom = undefined;
        return;
      }
      const v = this.view();
      if ((this.drawTool || ev.shiftKey) && v) this.dragStart = toImage(v, local(ev).x, local(ev).y);
      else { panFrom = local(ev); canvas.classList.add('panning'); }
    });
    canvas.addEventListener('pointermove', (ev) => {
      if (!pointers.has(ev.pointerId)) return;
      const p = local(ev);
      pointers.set(ev.pointerId, p);
      if (pinch && pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const d = Math.hypot(a.x - b.x, a.y - b.y);
        if (pinch.distance > 0) this.zoomBy(d / pinch.distance, { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });
        pinch.distance = d;
        return;
      }
      if (panFrom) { this.panBy(p.x - panFrom.x, p.y - panFrom.y); panFrom = p; return; }
      const v = this.view();
      if (this.dragStart && v) {
        const q = toImage(v, p.x, p.y);
        const a = this.dragStart;
        this.drawnBox = [Math.min(a.x, q.x), Math.min(a.y, q.y), Math.max(a.x, q.x), Math.max(a.y, q.y)];
        this.redrawAll();
      }
    });
    const end = (ev: PointerEvent) => {
      if (!pointers.has(ev.pointerId)) return;
      pointers.delete(ev.pointerId);
      canvas.classList.remove('panning');
      if (pinch) { if (pointers.size < 2) pinch = undefined; return; }
      panFrom = undefined;
      const start = this.dragStart, v = this.view();
      this.dragStart = undefined;
      if (!start || !v || ev.type === 'pointercancel') return;
      const p = toImage(v, local(ev).x, local(ev).y);
      if (Math.abs(p.x - start.x) * v.scale < 3 || Math.abs(p.y - start.y) * v.scale < 3) { this.setDrawnBox(undefined); return; }
      this.setDrawnBox([start.x, start.y, p.x, p.y]);
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  // ---- export ----------------------------------------------------------------------------------------------------

  /**
   * The publication figure as base64 PNG: every pane as shown (zoom included) at 2× device pixels, its title above
   * it, the phrase, the metrics and each map's colour bar with its raw range, on white whatever the theme.
   */
  exportBase64(pixelRatio = 2): string | undefined {
    const canvas = this.exportFigure(pixelRatio);
    return canvas?.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
  }

  exportFigure(pixelRatio = 2): HTMLCanvasElement | undefined {
    if (!this.sample) return undefined;
    const screen = this.view(1);
    if (!screen) return undefined;
    const pal = EXPORT_PALETTE;
    const v: PaneView = { ...screen, dpr: pixelRatio };
    const s = this.size()!;
    const e = this.explanation, c = this.comparisonModel;
    const image = this.imageLayer();
    type ExportPane = {
      title: string; draw: (canvas: HTMLCanvasElement) => void;
      heat?: { parts: HeatParts; e: ExplanationPayload | null; token?: number | null };
    };
    const panes: ExportPane[] = [
      { title: 'Image and ground-truth boxes', draw: (cv) => drawImagePane(cv, v, image, this.isUserPhrase(e) ? [] : this.sample!.boxes, pal, this.drawnBox, pal.background) },
      { title: this.maskCaption.textContent ?? 'Box mask', draw: (cv) => this.drawMask(cv, v, image, s, pal, pal.background) },
    ];
    const heatPane = (parts: HeatParts, x: ExplanationPayload | null, title: string, token?: number | null) => ({
      title, heat: { parts, e: x, token },
      draw: (cv: HTMLCanvasElement) => this.drawHeat(parts, x, token, { canvas: cv, view: v, palette: pal, background: pal.background }),
    });
    if (c) {
      const token = this.hoverToken ?? this.tokenIndex;
      const same = token !== null && this.comparison && e && this.comparison.tokens[token] === e.tokens[token] ? token : null;
      panes.push(heatPane(this.compareParts, this.comparison, `GradCAM · ${c.label}: ${c.name}`, same));
      panes.push(heatPane(this.heatParts, e, `GradCAM · current: ${this.currentModelName}`));
    } else {
      panes.push(heatPane(this.heatParts, e, 'GradCAM and pointing-game point'));
    }
    const pad = 16, gap = 12, titleH = 20, barH = 34, lineH = 18;
    const describe = (x: ExplanationPayload | null) => {
      if (!x) return 'not explained yet';
      const sc = this.scores(x);
      const against = sc.against === 'none' ? 'no box to score against' : `${sc.against === 'yours' ? 'against your box: ' : ''}L_mean ${fmt(sc.lMean)} · L_max ${fmt(sc.lMax)} · ${sc.hit ? 'hit' : 'miss'}`;
      const itm = this.itmHidden(x) ? '' : `ITM score ${fmt(x.score, 3)} (p ${fmt(x.itmProbability, 3)}) · `;
      return `${itm}${against} · point (${x.point.x}, ${x.point.y})`;
    };
    const phrase = e && this.isUserPhrase(e) ? `“${e.phrase}” (your phrase; dataset phrase: “${this.sample.phrase}”)` : `“${this.sample.phrase}”`;
    const lines = c ? [`${c.label} (${c.name}): ${describe(this.comparison)}`, `current (${this.currentModelName}): ${describe(e)}`] : [describe(e)];
    lines.push(`map: ${e ? this.mapOf(e).label : '–'} · ${this.mapStyleSelect.value === 'grid' ? 'raw grid cells' : 'bicubic to the image size'} · ${this.colormap}${this.zoom > 1 ? ` · zoom ${Math.round(this.zoom * 100)} %` : ''}`);
    lines.push(`${this.sample.imagePath} · #${this.sample.index}${this.sample.split ? ` · split ${this.sample.split}` : ''}`);
    const width = pad * 2 + panes.length * v.cssW + gap * (panes.length - 1);
    const height = pad + 24 + titleH + v.cssH + barH + lines.length * lineH + pad;
    const out = document.createElement('canvas');
    out.width = Math.round(width * pixelRatio); out.height = Math.round(height * pixelRatio);
    const ctx = out.getContext('2d')!;
    ctx.scale(pixelRatio, pixelRatio);
    ctx.fillStyle = pal.background;
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = pal.foreground;
    ctx.textBaseline = 'top';
    ctx.font = `600 16px ${pal.fontFamily}`;
    ctx.fillText(phrase, pad, pad, width - pad * 2);
    const top = pad + 24;
    panes.forEach((p, i) => {
      const x = pad + i * (v.cssW + gap);
      ctx.fillStyle = pal.foreground;
      ctx.font = `12px ${pal.fontFamily}`;
      ctx.fillText(p.title, x, top + 2, v.cssW);
      const cv = document.createElement('canvas');
      p.draw(cv);
      ctx.drawImage(cv, x, top + titleH, v.cssW, v.cssH);
      ctx.strokeStyle = '#c8c8c8'; ctx.lineWidth = 1;
      ctx.strokeRect(x - 0.5, top + titleH - 0.5, v.cssW + 1, v.cssH + 1);
      const shown = p.heat?.e ? this.mapOf(p.heat.e, p.heat.token) : undefined;
      const layer = p.heat?.e && shown
        ? heatLayer(shown.map, p.heat.e.grid, p.heat.e.width, p.heat.e.height, this.mapStyleSelect.value, this.colormap) : undefined;
      if (layer) {
        const by = top + titleH + v.cssH + 8;
        const labelW = 52;
        const bar = document.createElement('canvas');
        const bw = Math.max(40, v.cssW - labelW * 2);
        drawColorBar(bar, this.colormap, bw, 10, pixelRatio);
        ctx.drawImage(bar, x + labelW, by, bw, 10);
        ctx.fillStyle = pal.foreground;
        ctx.font = `11px ${pal.fontFamily}`;
        ctx.textAlign = 'right'; ctx.fillText(formatMapValue(layer.min), x + labelW - 4, by - 1);
        ctx.textAlign = 'left'; ctx.fillText(formatMapValue(layer.max), x + labelW + bw + 4, by - 1);
        ctx.fillText(`raw GradCAM · ${shown?.label ?? ''}`, x + labelW, by + 13, bw);
      }
    });
    ctx.fillStyle = pal.foreground;
    ctx.font = `12px ${pal.fontFamily}`;
    ctx.textAlign = 'left';
    const linesTop = top + titleH + v.cssH + barH;
    lines.forEach((line, i) => ctx.fillText(line, pad, linesTop + i * lineH, width - pad * 2));
    out.dataset.cssWidth = String(width);
    out.dataset.cssHeight = String(height);
    return out;
  }

  private export(): void {
    let data: string | undefined;
    try { data = this.exportBase64(); } catch (err) {
      this.setStatus(`Export failed: ${errorMessage(err)}`, 'error');
      return;
    }
    if (!data || !this.sample) return;
    this.host.exportPng(data, `amc-${this.sample.id}.png`);
  }
}
