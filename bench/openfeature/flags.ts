// The one flag every provider in the OpenFeature benchmark evaluates, written in each system's format:
// "checkout-v2" is on for plan "pro", off for everyone else.

/** Vexil / GO Feature Flag format. */
export const vexilFlags = {
  'checkout-v2': {
    variations: { on: true, off: false },
    targeting: [{ name: 'pro', query: 'plan eq "pro"', variation: 'on' }],
    defaultRule: { variation: 'off' },
    trackEvents: true,
  },
};

/** flagd format (JsonLogic targeting). */
export const flagdFlags = {
  flags: {
    'checkout-v2': {
      state: 'ENABLED',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      targeting: { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'on', 'off'] },
    },
  },
};

/** LaunchDarkly file data source format. */
export const launchDarklyFlags = {
  flags: {
    'checkout-v2': {
      key: 'checkout-v2',
      on: true,
      version: 1,
      salt: 'checkout-v2',
      variations: [true, false],
      offVariation: 1,
      fallthrough: { variation: 1 },
      targets: [],
      contextTargets: [],
      prerequisites: [],
      rules: [{ id: 'pro', clauses: [{ contextKind: 'user', attribute: 'plan', op: 'in', values: ['pro'], negate: false }], variation: 0 }],
    },
  },
  segments: {},
};

/** GrowthBook features: a force rule with a condition. */
export const growthbookFeatures = {
  'checkout-v2': { defaultValue: false, rules: [{ condition: { plan: 'pro' }, force: true }] },
};

/** Unleash client features: the default strategy with a constraint on the context's `plan` property. */
export const unleashFeatures = [
  {
    name: 'checkout-v2',
    enabled: true,
    strategies: [{ name: 'default', parameters: {}, constraints: [{ contextName: 'plan', operator: 'IN', values: ['pro'] }] }],
  },
];

/** A pool of contexts, a quarter of them "pro", so rules are exercised both ways. */
export function contexts(count: number): Array<{ targetingKey: string; plan: string; country: string }> {
  return Array.from({ length: count }, (_, i) => ({ targetingKey: `user-${i}`, plan: i % 4 === 0 ? 'pro' : 'free', country: i % 3 === 0 ? 'FR' : 'US' }));
}
