// Flags the tests load into the server: every type, targeting, splits, a disabled flag, metadata.
export const testFlags: Record<string, unknown> = {
  'bool-flag': {
    variations: { on: true, off: false },
    targeting: [{ name: 'beta users', query: 'beta eq true', variation: 'on' }],
    defaultRule: { variation: 'off' },
    metadata: { owner: 'team-a', ticket: 42, description: 'a boolean flag', nested: { ignored: true } },
  },
  'string-flag': {
    variations: { red: 'red', blue: 'blue', green: 'green' },
    targeting: [
      { query: 'country in ["FR", "DE"]', variation: 'blue' },
      { query: 'email ew "@example.com"', percentage: { red: 50, green: 50 } },
    ],
    defaultRule: { variation: 'red' },
  },
  'number-flag': {
    variations: { low: 1.5, mid: 10, high: 100 },
    targeting: [{ query: 'age ge 18 and age lt 65', variation: 'mid' }, { query: 'age ge 65', variation: 'high' }],
    defaultRule: { variation: 'low' },
  },
  'object-flag': {
    variations: { a: { theme: 'dark', size: 3 }, b: { theme: 'light', items: [1, 2] } },
    defaultRule: { percentage: { a: 30, b: 70 } },
  },
  'split-flag': {
    variations: { x: 'x', y: 'y', z: 'z' },
    defaultRule: { percentage: { x: 20, y: 30, z: 50 } },
  },
  'disabled-flag': {
    variations: { on: true, off: false },
    defaultRule: { variation: 'on' },
    disable: true,
  },
};
