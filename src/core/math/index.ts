// The grounding math of the project, pure TypeScript (no vscode, no native modules). See docs/reference.md §1.3, §2, §4.
export type { BoxXYXY, HitRule } from '../types';
export * from './mask';
export * from './interpolate';
export * from './amc';
export * from './pointing';
export * from './colormap';
