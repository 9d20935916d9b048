// Before anything is timed, every library must give the answers the scenarios mean, on all 10,000 contexts:
// a misconfigured peer (a rule that never matches, a split that serves one value) must not look fast.
import { matchesS2Rule, matchesS3Rule, type BenchUser } from './contexts.js';
import type { Contender } from './contenders.js';
import { S3_RULE_VALUE, S3_SPLIT, type ScenarioId } from './scenarios.js';

/** How far a split's observed share may stray from its weight (about 5 standard deviations at these sample sizes). */
const TOLERANCE = 0.03;

export async function collect(contender: Contender, scenario: ScenarioId): Promise<unknown[]> {
  const { contexts, evaluate } = contender.scenarios[scenario];
  const run = evaluate as (context: unknown) => unknown;
  const values: unknown[] = [];
  for (const context of contexts) values.push(contender.async ? await run(context) : run(context));
  return values;
}

function shares(values: unknown[]): Map<unknown, number> {
  const counts = new Map<unknown, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  for (const [value, count] of counts) counts.set(value, count / values.length);
  return counts;
}

function checkSplit(label: string, values: unknown[], expected: ReadonlyArray<readonly [unknown, number]>): string[] {
  const problems: string[] = [];
  const observed = shares(values);
  const allowed = new Set(expected.map(([value]) => value));
  for (const value of observed.keys()) {
    if (!allowed.has(value)) problems.push(`${label}: unexpected value ${JSON.stringify(value)}`);
  }
  const total = expected.reduce((sum, [, weight]) => sum + weight, 0);
  for (const [value, weight] of expected) {
    const share = observed.get(value) ?? 0;
    if (Math.abs(share - weight / total) > TOLERANCE) {
      problems.push(`${label}: ${JSON.stringify(value)} served to ${(share * 100).toFixed(1)}%, expected ${((weight / total) * 100).toFixed(1)}%`);
    }
  }
  return problems;
}

function checkRule(label: string, values: unknown[], expected: unknown): string[] {
  const wrong = values.filter((value) => value !== expected);
  return wrong.length === 0 ? [] : [`${label}: ${wrong.length} of ${values.length} got ${JSON.stringify(wrong[0])}, expected ${JSON.stringify(expected)}`];
}

/** Returns the problems found for one scenario; empty when the library answers as intended. */
export async function verifyScenario(contender: Contender, scenario: ScenarioId, users: readonly BenchUser[]): Promise<string[]> {
  const values = await collect(contender, scenario);
  if (values.length !== users.length) return [`${scenario}: ${values.length} results for ${users.length} contexts`];
  switch (scenario) {
    case 'S1':
      return checkRule('S1', values, true);
    case 'S2': {
      const matching = values.filter((_, i) => matchesS2Rule(users[i]!));
      const others = values.filter((_, i) => !matchesS2Rule(users[i]!));
      return [...checkRule('S2 rule', matching, true), ...checkSplit('S2 split', others, [[true, 50], [false, 50]])];
    }
    case 'S3': {
      const matching = values.filter((_, i) => matchesS3Rule(users[i]!));
      const others = values.filter((_, i) => !matchesS3Rule(users[i]!));
      return [...checkRule('S3 rule', matching, S3_RULE_VALUE), ...checkSplit('S3 split', others, S3_SPLIT)];
    }
  }
}
