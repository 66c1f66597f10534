// Which folders a viewer webview may load images from (its localResourceRoots besides the extension's own):
// the configured image root of the dataset, else the folder its images share. No vscode import.
import * as path from 'node:path';
import type { Sample } from '../core/types';

/** Deepest folder containing every path (POSIX or Windows), or '' when they share none. */
export function commonFolder(folders: readonly string[]): string {
  if (!folders.length) return '';
  const split = folders.map((f) => path.resolve(f).split(path.sep));
  let n = 0;
  while (split.every((p) => n < p.length && p[n] === split[0][n])) n++;
  return split[0].slice(0, n).join(path.sep) || (n > 0 ? path.sep : '');
}

/** Folders the webview may load images from: the configured root, else the images' common folder. */
export function imageRootsOf(samples: readonly Sample[], datasetFile: string, configured?: string): string[] {
  if (configured) return [path.resolve(configured)];
  const dirs = [...new Set(samples.map((s) => path.dirname(path.resolve(path.dirname(datasetFile), s.image))))];
  if (!dirs.length) return [path.dirname(datasetFile)];
  const common = commonFolder(dirs);
  // A common folder at the filesystem's top would grant far more than the dataset: list the folders instead.
  if (common && common.split(path.sep).filter(Boolean).length >= 2) return [common];
  return dirs.slice(0, 32);
}

/** Whether `file` lies inside one of `roots` (never the root itself, never via '..'). */
export function isInsideRoots(file: string, roots: readonly string[]): boolean {
  const resolved = path.resolve(file);
  return roots.some((root) => {
    const rel = path.relative(root, resolved);
    return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
  });
}
