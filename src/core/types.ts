// Types shared by every part of the extension, CLI and webview. Pure data: no vscode, no native modules.

/** A box in original-image pixels as [x1, y1, x2, y2] (docs/reference.md §4.3 xyxy; xywh boxes are converted x2 = x1 + w). */
export type BoxXYXY = [number, number, number, number];

/** The dataset formats the readers understand (docs/reference.md §5). */
export type DatasetFormat =
  | 'vg-regions'        // Visual Genome region_descriptions.json (+ image_data.json)
  | 'amc-vg'            // AMC training JSON: [{image, caption, bbox:[[x1,y1,x2,y2]]}]
  | 'flickr-raw'        // Flickr30k Entities Sentences/*.txt + Annotations/*.xml (+ split file)
  | 'flickr-infoground' // info-ground bounding_boxes_{split}.json + sentences_{split}.json
  | 'refcoco-pickle'    // refs(unc).p + instances.json
  | 'refcoco-albef';    // ALBEF JSON [{image, text, ref_id}] joined to refs(unc).p for boxes

/**
 * How the reference evaluation tests a point against a box (docs/reference.md §4): both are strict-inside, written
 * for the box format the benchmark stores. 'xywh' (RefCOCO+): x > x1 && x < x1 + w; 'xyxy' (Flickr30k):
 * x > x1 && x < x2. `boxes` is always xyxy; `sourceBoxes` keeps the numbers exactly as the file has them.
 */
export type HitRule = 'xyxy' | 'xywh';

/** Where an entry lives in its file, for error messages and "go to source". */
export interface SourceLocation {
  file: string;        // absolute path of the annotation file the entry came from
  entry: string;       // human label, e.g. "image 2351234, region 4091" or "[12]" or "ref_id 4567"
  byteOffset?: number; // offset of the entry in `file` when the reader knows it
  line?: number;       // 1-based line, for line-oriented formats (Flickr Sentences/*.txt)
}

/** One grounding query: an image, a phrase and its ground-truth box(es). Every reader yields these. */
export interface Sample {
  index: number;               // position in the dataset (0-based), stable for a given file
  id: string;                  // stable id, unique within the dataset
  image: string;               // image path resolved against the image root (absolute when a root is known)
  imageId: string;             // the dataset's own image id
  width?: number;              // original image size when the annotation states it
  height?: number;
  phrase: string;              // exactly as in the file
  caption: string;             // the reference's pre_caption form (docs/reference.md §3)
  boxes: BoxXYXY[];            // union of GT boxes, xyxy original pixels as the reference evaluation uses them
  sourceBoxes: number[][];     // the same boxes exactly as stored in the file (xywh or xyxy)
  hitRule: HitRule;
  split?: string;              // train | val | test | testA | testB | ...
  ids: Record<string, string | number>; // source ids: region_id, ref_id, ann_id, phrase_id, sent_id, ...
  source: SourceLocation;
}

/** An annotation problem found while reading or linting (shown in Problems and by `amc lint`). */
export interface Problem {
  severity: 'error' | 'warning';
  message: string;   // names the entry and what is wrong
  location: SourceLocation;
  code: string;      // short machine id, e.g. 'box-outside-image', 'degenerate-box', 'missing-image'
}
