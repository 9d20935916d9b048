// How many recently evaluated contexts would get another variation after a change: both versions of the flag are
// compiled and evaluated in the browser by the core, on the sample of contexts the server kept.
import { compileFlagSet, evaluate, type EvaluationContext, type FlagDefinition, type SegmentDefinition } from '@vexil/core';

export interface Impact {
  sampled: number;
  changed: number;
  /** "before → after" variation pairs with their counts, most frequent first. */
  moves: Array<{ from: string; to: string; count: number }>;
}

export function previewImpact(
  key: string,
  before: FlagDefinition,
  after: FlagDefinition,
  contexts: EvaluationContext[],
  segments: Record<string, SegmentDefinition> = {},
  now = Date.now(),
): Impact {
  const old = compileFlagSet({ [key]: before }, { segments });
  const next = compileFlagSet({ [key]: after }, { segments });
  const moves = new Map<string, { from: string; to: string; count: number }>();
  let changed = 0;
  for (const context of contexts) {
    const a = evaluate(old, key, context, { now });
    const b = evaluate(next, key, context, { now });
    const from = a.variant ?? '(default)';
    const to = b.variant ?? '(default)';
    if (from === to && JSON.stringify(a.value) === JSON.stringify(b.value)) continue;
    changed += 1;
    const id = `${from}\u0000${to}`;
    const move = moves.get(id) ?? { from, to, count: 0 };
    move.count += 1;
    moves.set(id, move);
  }
  return { sampled: contexts.length, changed, moves: [...moves.values()].sort((x, y) => y.count - x.count) };
}
