/** Types for generate.mjs (used by the benchmark and by test/unit/core/datasets/vg-scan.test.ts). */
export function generate(
  outDir: string,
  options?: { images?: number; meanRegions?: number; seed?: number },
): Promise<{ file: string; images: number; regions: number }>;
