// Detail view: image with GT boxes | box mask | GradCAM overlay with the pointing-game point, the phrase's tokens
// (hover/click shows that token's map), metrics, "explain with another phrase", a user-drawn box with its
// L_mean/L_max (core sampleLosses), and PNG export. When the viewer compares two models (issue 6), a fourth pane
// shows the comparison (previous) model's GradCAM before the current one's, each labelled with its model and with
// its own ITM score, L_mean, L_max and hit. All text from data goes in through textContent.
import { errorMessage } from '../src/core/errors';
import { isHit, sampleLosses } from '../src/core/math';
import type { BoxXYXY } from '../src/core/types';
import type { ExplanationPayload, SampleDetail } from '../src/shared/protocol';
import { el } from './dom';
import { composeExport, drawHeatmapPane, drawImagePane, drawMaskPane, fitSize, readPalette, type ColormapName } from './render';
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
  canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
  delete canvas.dataset.map;
}

const fmt = (v: number | undefined, d = 4) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

export class DetailView {
  readonly element = el('section', 'detail');
  private readonly title = el('h2', 'detail-phrase');
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
  private readonly paneNotes: HTMLElement[] = [];
  private readonly tokens = el('div', 'tokens');
  private readonly metrics = el('dl', 'metrics');
  private readonly drawnResult = el('div', 'drawn-result');
  private readonly opacityInput = el('input', 'opacity');
  private readonly colormapSelect: ui.Select<ColormapName>;
  private readonly altPhrase: ui.TextInput;
  private readonly boxField: ui.TextInput;
  private readonly backButton: ui.Button;
  private readonly exportButton: ui.Button;

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

  constructor(private readonly host: DetailHost, initial: { opacity: number; colormap: ColormapName; altPhrase: string }) {
    this.element.setAttribute('aria-label', 'Sample detail');
    const head = el('div', 'detail-head');
    const reveal = ui.button('Show in file', () => host.revealSource(), { ariaLabel: 'Show this entry in the annotation file' });
    head.append(this.title, this.meta, reveal.element);

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
    this.exportButton = ui.button('Export PNG', () => this.export(), { ariaLabel: 'Export the side-by-side view as PNG' });
    controls.append(opacityLabel, el('span', 'control-label', 'Colormap'), this.colormapSelect.element, this.exportButton.element);

    const captions = ['Image and ground-truth boxes', 'Box mask', 'GradCAM and pointing-game point'];
    [this.imageCanvas, this.maskCanvas, this.heatCanvas].forEach((canvas, i) => {
      const fig = el('figure', 'pane');
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', captions[i]);
      const note = el('div', 'pane-note');
      note.setAttribute('role', 'status');
      this.paneNotes.push(note);
      fig.append(canvas, note, i === 2 ? this.heatCaption : el('figcaption', undefined, captions[i]));
      if (i === 2) { fig.append(this.heatMetrics); fig.dataset.model = 'current'; }
      this.panes.append(fig);
    });
    this.compareCanvas.setAttribute('role', 'img');
    this.compareNote.setAttribute('role', 'status');
    this.compareFigure.dataset.model = 'comparison';
    for (const dl of [this.heatMetrics, this.compareMetrics]) dl.hidden = true;
    this.compareFigure.append(this.compareCanvas, this.compareNote, this.compareCaption, this.compareMetrics);
    for (const c of [this.imageCanvas, this.heatCanvas]) this.enableBoxDrawing(c);

    this.tokens.setAttribute('role', 'toolbar');
    this.tokens.setAttribute('aria-label', 'Tokens: hover or click for that token’s map');

    const alt = el('div', 'alt-phrase');
    this.altPhrase = ui.textField({ ariaLabel: 'Explain with another phrase', placeholder: 'another phrase on this image…', value: initial.altPhrase, size: 30 });
    this.altPhrase.onEnter((v) => this.submitAlt(v));
    this.altPhrase.onInput(() => host.stateChanged());
    const altButton = ui.button('Explain phrase', () => this.submitAlt(this.altPhrase.value), { appearance: 'primary' });
    this.backButton = ui.button('Back to sample phrase', () => host.backToSample());
    this.backButton.element.hidden = true;
    alt.append(this.altPhrase.element, altButton.element, this.backButton.element);

    const drawn = el('div', 'drawn');
    this.boxField = ui.textField({ ariaLabel: 'Box to score, x1 y1 x2 y2 in image pixels (or drag on the image)', placeholder: 'x1 y1 x2 y2 (or drag on the image)', size: 22 });
    this.boxField.onEnter((v) => this.submitBoxText(v));
    this.drawnResult.setAttribute('role', 'status');
    drawn.append(el('span', 'control-label', 'Your box'), this.boxField.element, this.drawnResult);

    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    this.element.append(head, controls, this.status, this.panes, this.tokens, this.metrics, alt, drawn);
    new ResizeObserver(() => this.redrawAll()).observe(this.panes);
    this.showEmpty('Select a sample to see its explanation.');
  }

  get opacity(): number { return Number(this.opacityInput.value); }
  get colormap(): ColormapName { return this.colormapSelect.value; }
  set colormap(name: ColormapName) { this.colormapSelect.value = name; this.redrawHeat(); }
  get altPhraseText(): string { return this.altPhrase.value; }
  focusAltPhrase(): void { this.altPhrase.focus(); }
  get current(): { sample: SampleDetail | null; explanation: ExplanationPayload | null } { return { sample: this.sample, explanation: this.explanation }; }

  showEmpty(message: string): void {
    this.sample = null; this.explanation = null; this.image = undefined;
    for (const c of [this.imageCanvas, this.maskCanvas, this.heatCanvas, this.compareCanvas]) clearCanvas(c);
    this.element.classList.add('empty');
    this.title.textContent = '';
    this.meta.textContent = '';
    this.setStatus(message, 'empty');
    this.tokens.replaceChildren();
    this.metrics.replaceChildren();
    this.comparison = null;
    this.renderPaneMetrics();
  }

  /** Compare with a second model (its label and name), or stop comparing (null). */
  setComparisonModel(model: { label: string; name: string } | null): void {
    const same = model?.label === this.comparisonModel?.label && model?.name === this.comparisonModel?.name;
    this.comparisonModel = model;
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
    this.sample = sample;
    this.explanation = null;
    this.drawnBox = undefined;
    this.tokenIndex = this.hoverToken = null;
    this.drawnResult.textContent = '';
    this.title.textContent = sample.phrase;
    this.meta.textContent = [sample.split ? `split ${sample.split}` : '', `#${sample.index}`, sample.entry, `${sample.boxes.length} box${sample.boxes.length === 1 ? '' : 'es'}`]
      .filter(Boolean).join(' · ');
    this.tokens.replaceChildren();
    this.metrics.replaceChildren();
    this.comparison = null;
    this.compareNote.textContent = '';
    this.renderPaneMetrics();
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
    this.renderTokens();
    this.renderMetrics();
    this.renderPaneMetrics();
    this.updateDrawnResult();
    this.redrawAll();
  }

  private size(): { width: number; height: number } | undefined {
    if (this.explanation) return { width: this.explanation.width, height: this.explanation.height };
    if (this.image && this.imageReady) return { width: this.image.naturalWidth, height: this.image.naturalHeight };
    if (this.sample?.width && this.sample.height) return { width: this.sample.width, height: this.sample.height };
    return undefined;
  }

  private paneSize(): { w: number; h: number; scale: number } | undefined {
    const s = this.size();
    if (!s) return undefined;
    const gap = 12;
    const n = this.comparing ? 4 : 3;
    const maxW = Math.max(80, Math.floor((this.panes.clientWidth - gap * (n - 1)) / n));
    return fitSize(s.width, s.height, Math.min(maxW, 480), 480);
  }

  redrawAll(): void {
    const size = this.paneSize();
    const s = this.size();
    if (!this.sample) return;
    if (!size || !s) {
      // No size known yet (no image, no explanation): the panes stay empty, at a placeholder size.
      const w = Math.max(80, Math.min(320, Math.floor(this.panes.clientWidth / (this.comparing ? 4 : 3)) - 12));
      for (const c of [this.imageCanvas, this.maskCanvas, this.heatCanvas, this.compareCanvas]) clearCanvas(c, w, Math.round(w * 0.75));
      return;
    }
    const palette = readPalette();
    if (this.image && this.imageReady) drawImagePane(this.imageCanvas, this.image, size, this.sample.boxes, palette, this.drawnBox);
    else clearCanvas(this.imageCanvas, size.w, size.h);
    drawMaskPane(this.maskCanvas, s.width, s.height, size, this.sample.boxes, palette);
    this.redrawHeat();
  }

  private redrawHeat(): void {
    this.drawHeat(this.heatCanvas, this.explanation);
    if (this.comparing) {
      // A token map only where the comparison model tokenised the phrase the same way; else its mean map.
      const c = this.comparison, e = this.explanation;
      const token = this.hoverToken ?? this.tokenIndex;
      const sameToken = token !== null && c && e && c.tokens[token] === e.tokens[token] ? token : null;
      this.drawHeat(this.compareCanvas, c, sameToken);
    }
  }

  private drawHeat(canvas: HTMLCanvasElement, e: ExplanationPayload | null, tokenOverride?: number | null): void {
    const size = this.paneSize();
    if (!size || !e) {
      if (size) { canvas.width = size.w; canvas.height = size.h; canvas.getContext('2d')?.clearRect(0, 0, size.w, size.h); }
      delete canvas.dataset.map;
      return;
    }
    const token = tokenOverride !== undefined ? tokenOverride : this.hoverToken ?? this.tokenIndex;
    const map = token === null ? e.gradcam : e.tokenGradcam[token];
    const image = this.image && this.imageReady ? this.image : undefined;
    drawHeatmapPane(canvas, image, size, map, e.grid, { opacity: this.opacity, colormap: this.colormap, point: token === null ? e.point : undefined },
      readPalette(), this.drawnBox, this.sample?.boxes);
    canvas.dataset.map = token === null ? 'mean' : `token ${token}`;
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
      if (!(this.itmNote && e === this.explanation)) add('ITM score', fmt(e.score, 3));
      add('L_mean', fmt(e.lMean));
      add('L_max', fmt(e.lMax));
      add('hit', e.hit === undefined ? '–' : e.hit ? '✓ hit' : '✗ miss', e.hit === undefined ? undefined : e.hit ? 'hit' : 'miss');
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
    if (e.index === null) add('phrase', e.phrase);
    if (this.itmNote) add('ITM', this.itmNote, 'itm-note');
    else { add('ITM score', fmt(e.score, 3)); add('ITM probability', fmt(e.itmProbability, 3)); }
    add('L_mean', fmt(e.lMean));
    add('L_max', fmt(e.lMax));
    add('hit', e.hit === undefined ? '–' : e.hit ? '✓ hit' : '✗ miss', e.hit === undefined ? undefined : e.hit ? 'hit' : 'miss');
    add('point', `(${e.point.x}, ${e.point.y})`);
    if (e.maskEmpty) add('note', 'the box mask is empty (degenerate box)');
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
    this.drawnBox = box ? [Math.min(box[0], box[2]), Math.min(box[1], box[3]), Math.max(box[0], box[2]), Math.max(box[1], box[3])] : undefined;
    if (this.drawnBox) this.boxField.value = this.drawnBox.map((v) => Math.round(v)).join(' ');
    this.updateDrawnResult();
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

  private enableBoxDrawing(canvas: HTMLCanvasElement): void {
    const toImage = (ev: PointerEvent) => {
      const size = this.paneSize();
      const r = canvas.getBoundingClientRect();
      if (!size) return undefined;
      return { x: (ev.clientX - r.left) / size.scale, y: (ev.clientY - r.top) / size.scale };
    };
    canvas.addEventListener('pointerdown', (ev) => {
      if (!this.sample) return;
      this.dragStart = toImage(ev);
      canvas.setPointerCapture(ev.pointerId);
    });
    canvas.addEventListener('pointermove', (ev) => {
      if (!this.dragStart) return;
      const p = toImage(ev);
      if (p) { this.drawnBox = [Math.min(this.dragStart.x, p.x), Math.min(this.dragStart.y, p.y), Math.max(this.dragStart.x, p.x), Math.max(this.dragStart.y, p.y)]; this.redrawAll(); }
    });
    canvas.addEventListener('pointerup', (ev) => {
      const start = this.dragStart, p = toImage(ev);
      this.dragStart = undefined;
      if (!start || !p) return;
      if (Math.abs(p.x - start.x) < 2 || Math.abs(p.y - start.y) < 2) { this.setDrawnBox(undefined); return; }
      this.setDrawnBox([start.x, start.y, p.x, p.y]);
    });
  }

  /** The side-by-side PNG, as base64 (also used by tests). */
  exportBase64(): string | undefined {
    if (!this.sample) return undefined;
    const e = this.explanation;
    const describe = (x: ExplanationPayload | null) => (x
      ? `${this.itmNote && x === e ? '' : `ITM score ${fmt(x.score, 3)} · `}L_mean ${fmt(x.lMean)} · L_max ${fmt(x.lMax)} · ${x.hit === undefined ? '' : x.hit ? 'hit' : 'miss'} · point (${x.point.x}, ${x.point.y})`
      : 'not explained yet');
    const c = this.comparisonModel;
    const lines = [
      `${e && e.index === null ? e.phrase : this.sample.phrase}`,
      ...(c ? [`${c.label} (${c.name}, left map): ${describe(this.comparison)}`, `current (${this.currentModelName}, right map): ${describe(e)}`] : [describe(e)]),
      `${this.sample.imagePath}`,
    ];
    const panes = c ? [this.imageCanvas, this.maskCanvas, this.compareCanvas, this.heatCanvas] : [this.imageCanvas, this.maskCanvas, this.heatCanvas];
    const canvas = composeExport(panes, lines, readPalette());
    return canvas.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
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
