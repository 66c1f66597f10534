// One entry point for every dataset format: detect from content, then open with that format's reader.
import * as path from 'node:path';
import type { DatasetFormat } from '../types';
import type { Dataset, OpenOptions } from './dataset';
import { ReaderError } from './dataset';
import { detectFormat, FORMAT_DESCRIPTIONS } from './detect';
import { openVgRegions } from './vg';
import { openAmcVg } from './amcVg';
import { openFlickrRaw } from './flickr';
import { openFlickrInfoground } from './flickrInfoground';
import { openRefcocoAlbef, openRefcocoPickle } from './refcoco';

export { detectFormat, detectFormatFromHead, FORMAT_DESCRIPTIONS } from './detect';
export { ReaderError } from './dataset';
export type { Dataset, OpenOptions } from './dataset';

const OPENERS: Record<DatasetFormat, (file: string, opts: OpenOptions) => Promise<Dataset>> = {
  'vg-regions': openVgRegions,
  'amc-vg': openAmcVg,
  'flickr-raw': openFlickrRaw,
  'flickr-infoground': openFlickrInfoground,
  'refcoco-pickle': openRefcocoPickle,
  'refcoco-albef': openRefcocoAlbef,
};

export const DATASET_FORMATS = Object.keys(OPENERS) as DatasetFormat[];

export function isDatasetFormat(value: string): value is DatasetFormat {
  return Object.prototype.hasOwnProperty.call(OPENERS, value);
}

export interface OpenDatasetOptions extends OpenOptions {
  /** Skip detection and read the file as this format. */
  format?: DatasetFormat;
}

/**
 * Open any supported annotation file. The format comes from the file's content (see detect.ts) unless
 * `format` is given. Large JSON files return at once and keep indexing in the background (`complete`).
 */
export async function openDataset(file: string, opts: OpenDatasetOptions = {}): Promise<Dataset> {
  const absolute = path.resolve(file);
  const { format: forced, ...rest } = opts;
  if (forced !== undefined && !isDatasetFormat(forced)) {
    throw new ReaderError(absolute, undefined, `unknown format '${forced}'; known: ${DATASET_FORMATS.join(', ')}`);
  }
  const format = forced ?? await detectFormat(absolute);
  return OPENERS[format](absolute, rest);
}

/** Human description of a format, for messages and the UI. */
export function describeFormat(format: DatasetFormat): string {
  return FORMAT_DESCRIPTIONS[format];
}
