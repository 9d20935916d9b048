// Every case in gbstats/cases.json was computed by GrowthBook's own gbstats (see gbstats/oracle.py): named upstream
// vectors and degenerate cases, 240 simulated experiments over every engine, metric type and option, and 120 at extreme
// scales (up to 10 million units, rare conversions, strict alphas).
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { analyzeExperiment, parseAnalysisInput } from '../src/index.ts';
import { assertClose } from './helpers.ts';

interface Case {
  name: string;
  input: unknown;
  expected: unknown;
}

const { cases } = JSON.parse(readFileSync(new URL('./gbstats/cases.json', import.meta.url), 'utf8')) as { cases: Case[] };

describe('vexil experiment analyze agrees with gbstats to 1e-6 (relative)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const output = analyzeExperiment(parseAnalysisInput(c.input));
      // Through JSON, as the CLI prints it: infinite bounds become null.
      assertClose(JSON.parse(JSON.stringify(output)), c.expected, 'output');
    });
  }
});
