// One inference engine for the whole extension (viewers, Explain phrase, Evaluate), opened lazily from the
// settings (amc.modelPath / executionProvider / threads) and replaced when they change.
import * as vscode from 'vscode';
import { getSettings, onSettingsChanged } from '../config';
import { defaultModelDir, InferenceEngine } from '../model/engine';
import type { Explainer } from './explainer';
import { MetricStore } from './metricStore';

export class EngineHost implements vscode.Disposable {
  private current: { settingsKey: string; explainer: Promise<Explainer>; engine?: InferenceEngine } | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the model settings changed; open viewers drop their explanations. */
  readonly onDidChangeModel = this.changed.event;
  private readonly stores = new Map<string, MetricStore>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly extensionPath: string, private readonly log: (line: string) => void) {
    this.subscriptions.push(onSettingsChanged(['modelPath', 'executionProvider', 'threads'], () => { void this.reset(); }), this.changed);
  }

  modelDir(): string {
    const s = getSettings();
    return s.modelPath || defaultModelDir(this.extensionPath);
  }

  /** The engine for the current settings; a failed open is not cached, so fixing the setting retries. */
  explainer(): Promise<Explainer> {
    const s = getSettings();
    const dir = this.modelDir();
    const settingsKey = `${dir}\n${s.executionProvider}\n${s.threads}`;
    if (this.current?.settingsKey === settingsKey) return this.current.explainer;
    void this.disposeCurrent();
    const entry: NonNullable<typeof this.current> = { settingsKey, explainer: undefined as unknown as Promise<Explainer> };
    entry.explainer = (async () => {
      const t0 = Date.now();
      const engine = await InferenceEngine.open(dir, { provider: s.executionProvider, threads: s.threads || undefined });
      entry.engine = engine;
      this.log(`model ${engine.card.name} loaded from ${dir} on ${engine.provider}${engine.providerNote ? ` (${engine.providerNote})` : ''} in ${Date.now() - t0} ms`);
      return {
        modelKey: `${engine.modelDir}#${engine.card.files.grounding.sha256}`,
        info: { name: engine.card.name, provider: engine.provider, providerNote: engine.providerNote, grid: engine.card.grid },
        engine,
      };
    })();
    entry.explainer.catch((err: unknown) => {
      this.log(`model at ${dir} could not be loaded: ${err instanceof Error ? err.message : String(err)}`);
      if (this.current === entry) this.current = undefined;
    });
    this.current = entry;
    return entry.explainer;
  }

  /** Metrics of one dataset file under one model, shared by every viewer of that file. */
  metricStore(modelKey: string, datasetFile: string): MetricStore {
    const key = `${modelKey}\n${datasetFile}`;
    let store = this.stores.get(key);
    if (!store) { store = new MetricStore(); this.stores.set(key, store); }
    return store;
  }

  private async disposeCurrent(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    if (!old) return;
    try { await old.explainer; } catch { return; }   // never opened: nothing to close
    await old.engine?.dispose();
  }

  private async reset(): Promise<void> {
    await this.disposeCurrent();
    this.changed.fire();
  }

  dispose(): void {
    void this.disposeCurrent();
    for (const d of this.subscriptions) d.dispose();
  }
}
