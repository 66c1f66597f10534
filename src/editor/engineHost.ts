// The inference engines of the whole extension (viewers, Explain phrase, Evaluate), opened lazily from the
// settings (amc.modelPath / executionProvider / threads) and replaced when they change; plus, when set, a second
// engine for the comparison model (issue 6: the previous model after a fine-tune export, or a folder picked with
// "AMC: Compare with another model…"). Both are the same InferenceEngine class.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { getSettings, onSettingsChanged } from '../config';
import { defaultModelDir, InferenceEngine } from '../model/engine';
import { COMPARISON_CHOICE_KEY, PREVIOUS_MODEL_KEY, resolveComparison, type ComparisonChoice, type ResolvedComparison } from '../shared/comparison';
import { engineExplainer, type Explainer } from './explainer';
import { MetricStore } from './metricStore';
import type { ModelStatusState } from '../core/modelStatus';
import type { ComparisonSource } from './viewerSession';
import { errorMessage } from '../core/errors';

interface EngineEntry { settingsKey: string; dir: string; explainer: Promise<Explainer>; engine?: InferenceEngine; }

export type SetComparisonResult =
  | { ok: true; comparison: (ResolvedComparison & { name: string }) | null }
  | { ok: false; error: string };

export class EngineHost implements vscode.Disposable {
  private current: EngineEntry | undefined;
  private comparisonEntry: EngineEntry | undefined;
  private choice: ComparisonChoice;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the model settings changed; open viewers drop their explanations. */
  readonly onDidChangeModel = this.changed.event;
  private readonly comparisonChanged = new vscode.EventEmitter<void>();
  /** Fires when the comparison model was set, changed or turned off. */
  readonly onDidChangeComparison = this.comparisonChanged.event;
  private readonly statusChanged = new vscode.EventEmitter<ModelStatusState>();
  /** Fires when the current model loaded (name, provider) or failed to load: the status-bar item follows it. */
  readonly onDidChangeModelStatus = this.statusChanged.event;
  private readonly stores = new Map<string, MetricStore>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private disposed = false;

  /** `state`: the workspace state (previous model of the last fine-tune export, the comparison choice). */
  constructor(
    private readonly extensionPath: string, private readonly log: (line: string) => void, private readonly state?: vscode.Memento,
  ) {
    this.choice = readChoice(state?.get<unknown>(COMPARISON_CHOICE_KEY));
    this.subscriptions.push(onSettingsChanged(['modelPath', 'executionProvider', 'threads', 'maxFileMB'], () => { void this.reset(); }), this.changed, this.comparisonChanged, this.statusChanged);
  }

  modelDir(): string {
    const s = getSettings();
    return s.modelPath || defaultModelDir(this.extensionPath);
  }

  private settingsKey(dir: string): string {
    const s = getSettings();
    return `${path.resolve(dir)}\n${s.executionProvider}\n${s.threads}\n${s.maxFileMB}`;
  }

  /** Opens a model folder with the current provider settings; a failure is logged and not cached. */
  private openEntry(dir: string, what: string, onFailure: (entry: EngineEntry) => void): EngineEntry {
    const s = getSettings();
    const entry: EngineEntry = {
      settingsKey: this.settingsKey(dir), dir: path.resolve(dir), explainer: undefined as unknown as Promise<Explainer>,
    };
    entry.explainer = (async () => {
      const t0 = Date.now();
      if (s.threadsWarning) this.log(`warning: ${s.threadsWarning}`);
      const engine = await InferenceEngine.open(dir, {
        provider: s.executionProvider, threads: s.threads || undefined, maxFileBytes: s.maxFileMB * 1024 * 1024,
      });
      if (this.disposed) { await engine.dispose(); throw new Error('the extension is shutting down'); }
      entry.engine = engine;
      this.log(`${what} ${engine.card.name} loaded from ${dir} on ${engine.providerNote ?? engine.provider}${engine.providerDetail ? ` (onnxruntime: ${engine.providerDetail})` : ''} in ${Date.now() - t0} ms`);
      for (const w of engine.card.warnings) this.log(`warning: ${w}`);
      return engineExplainer(engine);
    })();
    entry.explainer.catch((err: unknown) => {
      this.log(`${what} at ${dir} could not be loaded: ${errorMessage(err)}`);
      onFailure(entry);
    });
    return entry;
  }

  /** The engine for the current settings; a failed open is not cached, so fixing the setting retries. */
  explainer(): Promise<Explainer> {
    const dir = this.modelDir();
    if (this.current?.settingsKey === this.settingsKey(dir)) return this.current.explainer;
    void disposeEntry(this.current);
    const entry = this.openEntry(dir, 'model', (e) => { if (this.current === e) this.current = undefined; });
    this.current = entry;
    const provider = getSettings().executionProvider;
    entry.explainer.then(
      (e) => { if (this.current === entry) this.statusChanged.fire({ kind: 'loaded', info: { name: e.info.name, dir: e.info.dir ?? entry.dir, provider: e.info.provider, ...(e.info.providerNote ? { providerNote: e.info.providerNote } : {}) }, providerSetting: provider }); },
      (err: unknown) => { this.statusChanged.fire({ kind: 'failed', dir: entry.dir, error: errorMessage(err) }); });
    return entry.explainer;
  }

  /** Where the comparison choice points now, or why there is no comparison. */
  private resolved(choice = this.choice): ResolvedComparison | { none: string } {
    return resolveComparison(
      choice, this.state?.get<string>(PREVIOUS_MODEL_KEY), this.modelDir(), defaultModelDir(this.extensionPath), (p) => path.resolve(p));
  }

  /** The comparison model as viewers see it (ViewerSessionOptions.getComparison), or null for none. */
  comparison(): ComparisonSource | null {
    const r = this.resolved();
    if ('none' in r) {
      if (this.comparisonEntry) { void disposeEntry(this.comparisonEntry); this.comparisonEntry = undefined; }
      return null;
    }
    return { role: r.role, dir: r.dir, explainer: () => this.comparisonExplainer(r.dir) };
  }

  private comparisonExplainer(dir: string): Promise<Explainer> {
    if (this.comparisonEntry?.settingsKey === this.settingsKey(dir)) return this.comparisonEntry.explainer;
    void disposeEntry(this.comparisonEntry);
    const entry = this.openEntry(dir, 'comparison model', (e) => { if (this.comparisonEntry === e) this.comparisonEntry = undefined; });
    this.comparisonEntry = entry;
    return entry.explainer.catch((err: unknown) => {
      throw new Error(`the comparison model ${dir} could not be opened: ${errorMessage(err)}`);
    });
  }

  /** What the comparison is now, for the command's answer and messages. */
  async describeComparison(): Promise<SetComparisonResult> {
    const source = this.comparison();
    if (!source) return { ok: true, comparison: null };
    try {
      const e = await source.explainer();
      return { ok: true, comparison: { role: source.role, dir: source.dir, name: e.info.name } };
    } catch (err) {
      return { ok: false, error: errorMessage(err) };
    }
  }

  /**
   * Sets the comparison model (the command). A folder is opened first: one that is not a valid model is refused
   * with a message naming it, and the comparison stays as it was. Open viewers are told.
   */
  async setComparison(choice: ComparisonChoice): Promise<SetComparisonResult> {
    const r = this.resolved(choice);
    if ('none' in r && choice.kind !== 'off') return { ok: false, error: `cannot compare: ${r.none}` };
    if (!('none' in r) && this.comparisonEntry?.settingsKey !== this.settingsKey(r.dir)) {
      // Opened aside first: a folder that fails leaves the comparison engine viewers use now untouched.
      const entry = this.openEntry(r.dir, 'comparison model', () => undefined);
      try { await entry.explainer; } catch (err) {
        return { ok: false, error: `the comparison model ${r.dir} could not be opened: ${errorMessage(err)}` };
      }
      void disposeEntry(this.comparisonEntry);
      this.comparisonEntry = entry;
    }
    await this.storeChoice(choice);
    this.comparisonChanged.fire();
    return this.describeComparison();
  }

  /**
   * After a fine-tune export, before amc.modelPath switches: compare with the previous model from now on. No event
   * here; the model change that follows makes every viewer look the comparison up again.
   */
  async compareWithPreviousOnSwitch(): Promise<void> {
    await this.storeChoice({ kind: 'previous' });
  }

  private async storeChoice(choice: ComparisonChoice): Promise<void> {
    this.choice = choice;
    await this.state?.update(COMPARISON_CHOICE_KEY, choice);
  }

  /** Metrics of one dataset file under one model, shared by every viewer of that file. */
  metricStore(modelKey: string, datasetFile: string): MetricStore {
    const key = `${modelKey}\n${datasetFile}`;
    let store = this.stores.get(key);
    if (!store) { store = new MetricStore(); this.stores.set(key, store); }
    return store;
  }

  private async reset(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    await disposeEntry(old);
    this.changed.fire();
  }

  dispose(): void {
    this.disposed = true;
    void disposeEntry(this.current);
    void disposeEntry(this.comparisonEntry);
    this.current = this.comparisonEntry = undefined;
    for (const d of this.subscriptions) d.dispose();
  }
}

async function disposeEntry(entry: EngineEntry | undefined): Promise<void> {
  if (!entry) return;
  try { await entry.explainer; } catch { return; }   // never opened: nothing to close
  await entry.engine?.dispose();
}

function readChoice(raw: unknown): ComparisonChoice {
  const c = raw as ComparisonChoice | undefined;
  if (c?.kind === 'off') return c;
  if (c?.kind === 'folder' && typeof c.dir === 'string') return { kind: 'folder', dir: c.dir };
  return { kind: 'previous' };
}
