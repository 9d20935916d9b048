import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adjustGoalMetrics, analyzeExperiment, benjaminiHochberg, holmBonferroni, parseAnalysisInput } from '../src/index.ts';

function metric(conversions: number[], engine = 'frequentist') {
  return analyzeExperiment(
    parseAnalysisInput({
      metric: { type: 'binomial' },
      engine,
      difference: 'relative',
      variations: conversions.map((sum, i) => ({ name: `v${i}`, units: 5000, sum })),
    }),
  );
}

describe('corrections across goal metrics × variations', () => {
  const purchases = metric([500, 560, 540]);
  const signups = metric([1000, 1090, 1010]);

  it('adjusts every treatment of every goal metric as one family (Holm and BH)', () => {
    const raw = [purchases.variations[1]!, purchases.variations[2]!, signups.variations[1]!, signups.variations[2]!].map((v) => v.effect!.pValue!);
    const holm = adjustGoalMetrics([purchases, signups], 'holm-bonferroni');
    assert.deepEqual(
      holm.map((c) => [c.metric, c.variation]),
      [
        [0, 1],
        [0, 2],
        [1, 1],
        [1, 2],
      ],
    );
    assert.deepEqual(
      holm.map((c) => c.pValueAdjusted),
      holmBonferroni(raw),
    );
    assert.deepEqual(
      adjustGoalMetrics([purchases, signups], 'benjamini-hochberg').map((c) => c.pValueAdjusted),
      benjaminiHochberg(raw),
    );
  });

  it('widens each interval to match its adjusted p-value, never narrows it', () => {
    for (const c of adjustGoalMetrics([purchases, signups], 'holm-bonferroni')) {
      const ci = (c.metric === 0 ? purchases : signups).variations[c.variation]!.effect!.ci;
      assert.ok(c.ciAdjusted[0] === null || c.ciAdjusted[0] <= ci[0]!);
      assert.ok(c.ciAdjusted[1] === null || c.ciAdjusted[1] >= ci[1]!);
      if (c.pValueAdjusted > c.pValue && c.pValueAdjusted < 0.999999) assert.ok(c.ciAdjusted[0]! < ci[0]!, 'strictly wider');
    }
  });

  it('leaves Bayesian and degenerate comparisons out of the family', () => {
    const bayesian = metric([500, 560], 'bayesian');
    const degenerate = metric([0, 10]);
    const family = adjustGoalMetrics([bayesian, degenerate, purchases], 'holm-bonferroni');
    assert.deepEqual(
      family.map((c) => c.metric),
      [2, 2],
    );
  });
});
