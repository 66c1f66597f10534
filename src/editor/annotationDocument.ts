// One open annotation file of the viewer (issue 17 item 1): it owns its Dataset, opens and reloads it (when the
// image folder changes: "Choose image folder…" or the setting amc.imageRoots), lints it into the Problems panel,
// finds out whether its images are there, and fires onDidChange; the editor provider and the sessions listen
// instead of writing its fields. Every viewer (webview panel) of the file shares this one object.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { getSettings, onSettingsChanged } from '../config';
import type { Dataset } from '../core/datasets/dataset';
import { openDataset } from '../core/datasets/index';
import { errorMessage } from '../core/errors';
import type { Sample } from '../core/types';
import type { MissingImages } from '../shared/protocol';
import type { ViewerDiagnostics } from './diagnostics';
import { lintStartGate } from './problemsPanel';
import { ImageAccess, viewerImageRoots } from './imageRoots';

/** What changed: the dataset (reloaded), the Problems count (the lint finished), the missing-images state. */
export type AnnotationDocumentChange = 'dataset' | 'problems' | 'missingImages';

/** The missing-images state the document keeps (the webview's MissingImages without what the viewer offers). */
export type MissingImagesState = Omit<MissingImages, 'canChoose'>;

export interface AnnotationDocumentServices {
  diagnostics: ViewerDiagnostics;
  log(line: string): void;
}

/** How many of the first samples' images are looked for on open: none found = the folder is elsewhere. */
const PROBE_SAMPLES = 20;
const MAX_IMAGE_CHECKS = 10_000;
/** The longest the indexing of a large file waits for the first explanation after its first page. */
const INDEX_PAUSE_MAX_MS = 4000;

function firstExplanationOrTimeout(shown: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([shown, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); })]).finally(() => clearTimeout(timer));
}

interface Loaded { dataset: Dataset | undefined; openError: string | undefined; imageRoot: string | undefined; }

export class AnnotationDocument implements vscode.CustomDocument, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<AnnotationDocumentChange>();
  /** Fires after the document changed; the dataset may have been replaced ('dataset'). */
  readonly onDidChange = this.changed.event;
  /** Which images the webviews of this document may load; "Allow this folder" adds to it until the document closes. */
  readonly imageAccess = new ImageAccess([]);
  private loaded: Loaded = { dataset: undefined, openError: undefined, imageRoot: undefined };
  private lintedProblems: number | undefined;
  private missing: MissingImagesState | undefined;
  /** Image file → why it cannot be shown (undefined: fine); cleared when the dataset is reloaded. */
  private readonly imageChecks = new Map<string, Promise<string | undefined>>();
  /** The image folder the latest reload asked for (a settings change to the same folder reloads nothing). */
  private wantedRoot: string | undefined;
  private reloading: Promise<void> = Promise.resolve();
  /** Counts loads, so an image check started before a reload does not set the new dataset's state. */
  private generation = 0;
  private readonly subscriptions: vscode.Disposable[] = [];
  private disposed = false;
  /** Resolved when a viewer of the file first showed an explanation; the whole-file lint waits for it (or a timeout). */
  private markExplanationShown: () => void = () => undefined;
  private readonly explanationShown = new Promise<void>((resolve) => { this.markExplanationShown = resolve; });

  private constructor(readonly uri: vscode.Uri, private readonly services: AnnotationDocumentServices) {
    // The user edited amc.imageRoots (or a folder was chosen in another window): this file's entry decides.
    this.subscriptions.push(this.changed, onSettingsChanged(['imageRoots'], () => {
      const configured = getSettings().imageRoots[this.file];
      if (configured !== this.wantedRoot) void this.reload(configured).catch(() => undefined);
    }));
  }

  /** Opens `uri` with its image folder from amc.imageRoots. A file that cannot be read still opens (`openError`). */
  static async open(uri: vscode.Uri, services: AnnotationDocumentServices): Promise<AnnotationDocument> {
    const doc = new AnnotationDocument(uri, services);
    const imageRoot = getSettings().imageRoots[uri.fsPath];
    doc.wantedRoot = imageRoot;
    try {
      await doc.load(imageRoot);
    } catch (err) {
      const message = errorMessage(err);
      services.log(`viewer: could not open ${doc.file}: ${message}`);
      services.diagnostics.openFailed(uri, message);
      doc.loaded = { dataset: undefined, openError: message, imageRoot };
      doc.imageAccess.setGranted(grantedRoots(doc.file, undefined, imageRoot));
    }
    return doc;
  }

  get file(): string { return this.uri.fsPath; }
  get dataset(): Dataset | undefined { return this.loaded.dataset; }
  /** Why the file could not be opened (then there is no dataset). */
  get openError(): string | undefined { return this.loaded.openError; }
  /** The folder image paths resolve against (amc.imageRoots), when one was chosen. */
  get imageRoot(): string | undefined { return this.loaded.imageRoot; }
  /** Errors + warnings the whole-file lint found (the Problems panel), once it finished. */
  get problemCount(): number | undefined { return this.lintedProblems; }
  /** Set when the file's images were not found (the viewer's banner); undefined when they were. */
  get missingImages(): MissingImagesState | undefined { return this.missing; }
  get imageRoots(): string[] { return this.imageAccess.roots(); }

  /** A viewer of this file showed its first explanation: the whole-file lint may start once the file is indexed. */
  explanationSent(): void { this.markExplanationShown(); }

  /**
   * Opens the file again with `imageRoot` (default: its amc.imageRoots entry) and fires 'dataset'; the viewers
   * rebuild their sessions. On failure the old dataset stays and the promise rejects with the reason.
   */
  reload(imageRoot: string | undefined = getSettings().imageRoots[this.file]): Promise<void> {
    this.wantedRoot = imageRoot;
    const run = this.reloading.catch(() => undefined).then(async () => {
      if (this.disposed) return;
      const old = this.loaded.dataset;
      await this.load(imageRoot);
      this.changed.fire('dataset');
      if (old !== this.loaded.dataset) void old?.close();
    });
    this.reloading = run;
    return run;
  }

  /** Reads the file (with its first page), grants the roots, looks for the images and starts the lint. */
  private async load(imageRoot: string | undefined): Promise<void> {
    const t0 = Date.now();
    const dataset = await openDataset(this.file, { imageRoot, phraseIndex: true });
    if (this.disposed) { void dataset.close(); return; }
    // A file readable only in part still opens: the first samples may be all there is (the session says where it stops).
    const first = await dataset.page(0, 200).catch(() => [] as Sample[]);
    // The first page is there: the rest of a large file waits until a viewer sent its first explanation (or a few
    // seconds), so the model, the webview and that explanation get the 2 cores (bench/open-gradcam: 10–13 s → ~2 s).
    dataset.pauseIndexing?.(firstExplanationOrTimeout(this.explanationShown, INDEX_PAUSE_MAX_MS));
    const missing = await probeImages(first);
    // The new state at once (no await below): a check of the old dataset's images that ends later is ignored.
    this.generation++;
    this.loaded = { dataset, openError: undefined, imageRoot };
    this.imageAccess.setGranted(grantedRoots(this.file, dataset, imageRoot));
    this.imageChecks.clear();
    this.lintedProblems = undefined;
    this.missing = missing;
    this.services.log(`viewer: opened ${this.file} as ${dataset.format} in ${Date.now() - t0} ms; image roots ${this.imageRoots.join(', ')}`
      + (this.missing ? `; images not found (the first is expected at ${this.missing.image})` : ''));
    this.publishProblems(dataset);
  }

  /**
   * Whole-file lint into Problems (background), started once the file is indexed and the first explanation is on
   * screen (lintStartGate), so it does not compete with them; then the viewers' status lines count what the panel holds.
   */
  private publishProblems(dataset: Dataset): void {
    void this.services.diagnostics.publish(dataset, lintStartGate(dataset.complete, this.explanationShown)).then((result) => {
      if (!result || this.loaded.dataset !== dataset || this.disposed) return;
      this.lintedProblems = result.report.errors + result.report.warnings;
      this.changed.fire('problems');
    });
  }

  /**
   * Why an image cannot be shown (missing, not a file), or undefined when it is fine. An image that is not there
   * turns the missing-images banner on for every viewer of the file.
   */
  imageProblem(file: string): Promise<string | undefined> {
    let check = this.imageChecks.get(file);
    if (!check) {
      const name = path.basename(this.file);
      const generation = this.generation;
      check = fs.promises.stat(file).then(
        (st) => (st.isFile() ? undefined : `${file} is not a file`),
        () => {
          if (generation === this.generation) this.noteMissingImage(file);
          return `Image not found: ${file}. Choose the folder the images of ${name} are in with “Choose image folder…” above, or set amc.imageRoots.`;
        },
      );
      this.imageChecks.set(file, check);
      if (this.imageChecks.size > MAX_IMAGE_CHECKS) this.imageChecks.delete(this.imageChecks.keys().next().value as string);
    }
    return check;
  }

  private noteMissingImage(file: string): void {
    if (this.missing || this.disposed) return;
    this.missing = { image: file, noneFound: false };
    this.changed.fire('missingImages');
  }

  dispose(): void {
    this.disposed = true;
    const dataset = this.loaded.dataset;
    if (dataset) this.services.diagnostics.cancel(dataset.file);
    void dataset?.close();
    for (const d of this.subscriptions) d.dispose();
  }
}

/** None of the first samples' images exists: the images are elsewhere (the banner); else undefined. */
async function probeImages(first: readonly Sample[]): Promise<MissingImagesState | undefined> {
  const probe = first.slice(0, PROBE_SAMPLES);
  if (!probe.length) return undefined;
  const found = await Promise.all(probe.map((s) => fs.promises.stat(s.image).then((st) => st.isFile(), () => false)));
  return found.some(Boolean) ? undefined : { image: probe[0].image, noneFound: true };
}

/** The roots the user granted for a dataset file: workspace folders, its folder, amc.imageRoots (never the data's). */
function grantedRoots(file: string, dataset: Dataset | undefined, chosen: string | undefined): string[] {
  const workspaceFolders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  return viewerImageRoots({ workspaceFolders, datasetFile: file, format: dataset?.format, chosen });
}
