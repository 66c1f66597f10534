// Which folders a viewer webview may load images from (its localResourceRoots besides the extension's own out/
// and media/). The user grants them, never the data (issue 12 item 3): an annotation file that lists
// `/etc/hostname` grants nothing. Roots = the workspace folders, the dataset file's folder, the format's
// conventional image folders beside the file (fixed names, not read from the file), the image folder the user
// chose (`amc.imageRoots`), and folders the user allowed for this viewer ("Allow this folder"). No vscode import.
import { realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { flickrImageRootCandidates } from '../core/datasets/flickr';
import { cocoImageRootCandidates } from '../core/datasets/refcoco';
import type { DatasetFormat } from '../core/types';

export interface ViewerRootSources {
  /** The workspace folders (absolute), as VS Code lists them. */
  workspaceFolders: readonly string[];
  datasetFile: string;
  format?: DatasetFormat;
  /** The image folder the user chose for this file (setting `amc.imageRoots`), if any. */
  chosen?: string;
}

function isDirectory(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

/**
 * The folders the readers look in for this format when no root is set (flickr30k-images/, train2014/, … beside
 * the file or its parent): derived from where the file is, never from its content. Only existing folders.
 */
export function conventionalImageFolders(datasetFile: string, format: DatasetFormat | undefined): string[] {
  const dir = path.dirname(path.resolve(datasetFile));
  const candidates = format === 'flickr-raw' || format === 'flickr-infoground' ? flickrImageRootCandidates(dir)
    : format === 'refcoco-pickle' || format === 'refcoco-albef' ? cocoImageRootCandidates(dir) : [];
  return candidates.filter(isDirectory);
}

/** The roots the user granted (see the file comment), resolved and without duplicates. */
export function viewerImageRoots(s: ViewerRootSources): string[] {
  const roots = [
    ...s.workspaceFolders,
    path.dirname(s.datasetFile),
    ...conventionalImageFolders(s.datasetFile, s.format),
    ...(s.chosen ? [s.chosen] : []),
  ];
  return [...new Set(roots.map((r) => path.resolve(r)))];
}

/**
 * One viewer's image access: the granted roots plus the folders the user allowed once in this viewer. The same
 * object decides which images get a webview URI and which roots the webview gets, so the two never disagree.
 */
export class ImageAccess {
  private readonly allowedOnce: string[] = [];
  constructor(private granted: string[]) {}

  /** Every root the webview may read now. */
  roots(): string[] { return [...new Set([...this.granted, ...this.allowedOnce])]; }

  /** Replace the granted roots (the user chose an image folder); folders allowed once stay allowed. */
  setGranted(roots: string[]): void { this.granted = roots.map((r) => path.resolve(r)); }

  /**
   * Inside the roots by its path and, when it exists, by its real path too: a symbolic link an archive carried
   * into the dataset's folder (images/x.jpg → ~/Pictures/…) does not lead the webview out of the roots.
   */
  allows(file: string): boolean {
    const roots = this.roots();
    if (!isInsideRoots(file, roots)) return false;
    const real = realPath(file);
    return real === undefined || isInsideRoots(real, roots.map((r) => this.realRoot(r)));
  }

  private readonly realRoots = new Map<string, string>();
  private realRoot(root: string): string {
    let real = this.realRoots.get(root);
    if (real === undefined) { real = realPath(root) ?? root; this.realRoots.set(root, real); }
    return real;
  }

  /** "Allow this folder": the image's folder joins the roots of this viewer (not saved). Returns the folder. */
  allowFolderOf(file: string): string {
    const folder = folderToAllow(file);
    if (!this.allowedOnce.includes(folder)) this.allowedOnce.push(folder);
    return folder;
  }
}

/** The folder "Allow this folder" grants for an image: that of its real path (a link's target), else of its path. */
export function folderToAllow(file: string): string {
  return path.dirname(realPath(file) ?? path.resolve(file));
}

function realPath(p: string): string | undefined {
  try { return realpathSync(p); } catch { return undefined; }
}

/** Whether `file` lies inside one of `roots` (never the root itself, never via '..'). */
export function isInsideRoots(file: string, roots: readonly string[]): boolean {
  const resolved = path.resolve(file);
  return roots.some((root) => {
    const rel = path.relative(root, resolved);
    return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
  });
}
