// The three benchmark scenarios, written once in GO Feature Flag's format (Vexil) and once in each peer's own
// format, as a user of that library would write the same flag. Keep these definitions equivalent: `verify.ts`
// checks every library's answers against the intent below before anything is timed.
//
// S1  a boolean flag with no rules: everyone gets `true`.
// S2  a boolean flag: `email ew "@example.com"` → true, everyone else split 50/50 (true/false) by targeting key.
// S3  a string flag: `country in ["fr","de","it"] and plan eq "pro"` → "orange", everyone else split
//     34/33/33 over "control" / "green" / "orange" by targeting key.

export type ScenarioId = 'S1' | 'S2' | 'S3';
export const SCENARIOS: readonly ScenarioId[] = ['S1', 'S2', 'S3'];

export const FLAG_KEYS: Record<ScenarioId, string> = {
  S1: 'bench-s1-static',
  S2: 'bench-s2-staff-then-half',
  S3: 'bench-s3-banner',
};

export const SCENARIO_TITLES: Record<ScenarioId, string> = {
  S1: 'S1 boolean, no rules',
  S2: 'S2 `email ew` rule, then 50/50 split',
  S3: 'S3 `country in … and plan eq` rule, then 34/33/33 split',
};

/** S3's variation values; the rule serves RULE_VALUE. */
export const S3_SPLIT: ReadonlyArray<readonly [string, number]> = [
  ['control', 34],
  ['green', 33],
  ['orange', 33],
];
export const S3_RULE_VALUE = 'orange';
export const S3_DEFAULT = 'control';

/** What each timing loop compares results with (so results are consumed and the JIT cannot drop the calls). */
export const PROBES: Record<ScenarioId, unknown> = { S1: true, S2: true, S3: S3_RULE_VALUE };

// --- Vexil: GO Feature Flag's YAML ------------------------------------------------------------------------------

export const GOFF_YAML = `# Vexil's core benchmark flags, in GO Feature Flag's format.
${FLAG_KEYS.S1}:
  variations:
    enabled: true
    disabled: false
  defaultRule:
    variation: enabled

${FLAG_KEYS.S2}:
  variations:
    enabled: true
    disabled: false
  targeting:
    - name: staff
      query: 'email ew "@example.com"'
      variation: enabled
  defaultRule:
    percentage:
      enabled: 50
      disabled: 50

${FLAG_KEYS.S3}:
  variations:
    control: control
    green: green
    orange: orange
  targeting:
    - name: eu-pro
      query: 'country in ["fr","de","it"] and plan eq "pro"'
      variation: ${S3_RULE_VALUE}
  defaultRule:
    percentage:
${S3_SPLIT.map(([name, weight]) => `      ${name}: ${weight}`).join('\n')}
`;

// --- flagd (@openfeature/flagd-core): flagd's JSON with JsonLogic targeting ---------------------------------------

export const FLAGD_CONFIG = {
  flags: {
    [FLAG_KEYS.S1]: {
      state: 'ENABLED',
      variants: { enabled: true, disabled: false },
      defaultVariant: 'enabled',
    },
    [FLAG_KEYS.S2]: {
      state: 'ENABLED',
      variants: { enabled: true, disabled: false },
      defaultVariant: 'disabled',
      targeting: {
        if: [
          { ends_with: [{ var: 'email' }, '@example.com'] },
          'enabled',
          // `fractional` buckets by flag key + targeting key when given no bucketing expression.
          { fractional: [['enabled', 50], ['disabled', 50]] },
        ],
      },
    },
    [FLAG_KEYS.S3]: {
      state: 'ENABLED',
      variants: Object.fromEntries(S3_SPLIT.map(([name]) => [name, name])),
      defaultVariant: S3_DEFAULT,
      targeting: {
        if: [
          { and: [{ in: [{ var: 'country' }, ['fr', 'de', 'it']] }, { '==': [{ var: 'plan' }, 'pro'] }] },
          S3_RULE_VALUE,
          { fractional: S3_SPLIT.map(([name, weight]) => [name, weight]) },
        ],
      },
    },
  },
};

// --- Unleash (unleash-client): the client API's feature payload, loaded with `bootstrap.data` -------------------

export const UNLEASH_FEATURES = [
  {
    name: FLAG_KEYS.S1,
    enabled: true,
    strategies: [{ name: 'default', parameters: {}, constraints: [] }],
  },
  {
    name: FLAG_KEYS.S2,
    enabled: true,
    // Strategies are OR-ed: staff always, plus a 50% sticky rollout for everyone.
    strategies: [
      {
        name: 'flexibleRollout',
        parameters: { rollout: '100', stickiness: 'default', groupId: FLAG_KEYS.S2 },
        constraints: [{ contextName: 'email', operator: 'STR_ENDS_WITH', values: ['@example.com'], inverted: false }],
      },
      {
        name: 'flexibleRollout',
        parameters: { rollout: '50', stickiness: 'default', groupId: FLAG_KEYS.S2 },
        constraints: [],
      },
    ],
  },
  {
    name: FLAG_KEYS.S3,
    enabled: true,
    // Strategy variants (Unleash 5+): the first matching strategy picks the variant.
    strategies: [
      {
        name: 'flexibleRollout',
        parameters: { rollout: '100', stickiness: 'default', groupId: FLAG_KEYS.S3 },
        constraints: [
          { contextName: 'country', operator: 'IN', values: ['fr', 'de', 'it'], inverted: false },
          { contextName: 'plan', operator: 'IN', values: ['pro'], inverted: false },
        ],
        variants: [
          { name: S3_RULE_VALUE, weight: 1000, weightType: 'variable', stickiness: 'default', payload: { type: 'string', value: S3_RULE_VALUE } },
        ],
      },
      {
        name: 'flexibleRollout',
        parameters: { rollout: '100', stickiness: 'default', groupId: FLAG_KEYS.S3 },
        constraints: [],
        variants: S3_SPLIT.map(([name, weight]) => ({
          name,
          weight: weight * 10, // Unleash weights are out of 1000
          weightType: 'variable',
          stickiness: 'default',
          payload: { type: 'string', value: name },
        })),
      },
    ],
  },
];

// --- GrowthBook (@growthbook/growthbook): feature definitions with force and experiment rules ---------------------

export const GROWTHBOOK_FEATURES = {
  [FLAG_KEYS.S1]: { defaultValue: true },
  [FLAG_KEYS.S2]: {
    defaultValue: false,
    rules: [
      { id: 'staff', condition: { email: { $regex: '@example\\.com$' } }, force: true },
      { id: 'half', key: FLAG_KEYS.S2, hashAttribute: 'id', variations: [true, false], weights: [0.5, 0.5] },
    ],
  },
  [FLAG_KEYS.S3]: {
    defaultValue: S3_DEFAULT,
    rules: [
      { id: 'eu-pro', condition: { country: { $in: ['fr', 'de', 'it'] }, plan: 'pro' }, force: S3_RULE_VALUE },
      {
        id: 'banner',
        key: FLAG_KEYS.S3,
        hashAttribute: 'id',
        variations: S3_SPLIT.map(([name]) => name),
        weights: S3_SPLIT.map(([, weight]) => weight / 100),
      },
    ],
  },
};

// --- LaunchDarkly (@launchdarkly/node-server-sdk): full flag data for the file data source -----------------------

function ldFlag(key: string, body: Record<string, unknown>): Record<string, unknown> {
  return { key, version: 1, on: true, salt: key, targets: [], contextTargets: [], prerequisites: [], rules: [], ...body };
}

export const LAUNCHDARKLY_DATA = {
  flags: {
    [FLAG_KEYS.S1]: ldFlag(FLAG_KEYS.S1, { variations: [true, false], offVariation: 1, fallthrough: { variation: 0 } }),
    [FLAG_KEYS.S2]: ldFlag(FLAG_KEYS.S2, {
      variations: [true, false],
      offVariation: 1,
      rules: [
        {
          id: 'staff',
          clauses: [{ contextKind: 'user', attribute: 'email', op: 'endsWith', values: ['@example.com'], negate: false }],
          variation: 0,
        },
      ],
      // LaunchDarkly weights are out of 100,000.
      fallthrough: { rollout: { variations: [{ variation: 0, weight: 50_000 }, { variation: 1, weight: 50_000 }] } },
    }),
    [FLAG_KEYS.S3]: ldFlag(FLAG_KEYS.S3, {
      variations: S3_SPLIT.map(([name]) => name),
      offVariation: 0,
      rules: [
        {
          id: 'eu-pro',
          clauses: [
            { contextKind: 'user', attribute: 'country', op: 'in', values: ['fr', 'de', 'it'], negate: false },
            { contextKind: 'user', attribute: 'plan', op: 'in', values: ['pro'], negate: false },
          ],
          variation: S3_SPLIT.findIndex(([name]) => name === S3_RULE_VALUE),
        },
      ],
      fallthrough: {
        rollout: { variations: S3_SPLIT.map(([, weight], variation) => ({ variation, weight: weight * 1000 })) },
      },
    }),
  },
  segments: {},
};
