// Queries an evaluation could not score (missing or refused image, phrase the model cannot take, bad box), grouped
// by their short reason, and the one line that puts them beside the accuracy: an accuracy never hides how many
// queries it leaves out. Used by `amc eval`, `amc demo` and the viewer's "Evaluate pointing game".

export interface NotScoredGroup {
  /** Short cause without the file name ("image not found", "image is a character device"). */
  reason: string;
  count: number;
}

/** Counts per reason, most frequent first (ties in first-seen order). */
export function groupNotScored(reasons: Iterable<string>): NotScoredGroup[] {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count);
}

/** "scored 6 of 10; 4 not scored: image not found (3), image is a character device (1)". */
export function scoredSummary(scored: number, attempted: number, groups: readonly NotScoredGroup[]): string {
  const notScored = groups.reduce((n, g) => n + g.count, 0);
  const head = `scored ${scored} of ${attempted}`;
  return notScored ? `${head}; ${notScored} not scored: ${groups.map((g) => `${g.reason} (${g.count})`).join(', ')}` : head;
}

/** An accuracy in percent, or "—" when nothing was scored (never "NaN %"). */
export function formatAccuracy(accuracy: number, digits = 2): string {
  return Number.isFinite(accuracy) ? `${(accuracy * 100).toFixed(digits)}%` : '—';
}
