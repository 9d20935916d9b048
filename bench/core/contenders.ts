// One adapter per library: set it up offline with the scenario flags, convert the shared users to its own context
// shape (outside the timed loop, as an app would build its context once per request), and expose one evaluation
// function per scenario, called as that library's users call it.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFlags, evaluate, type EvaluateOptions, type EvaluationContext } from '@vexil/core';
import type { BenchUser } from './contexts.js';
import {
  FLAGD_CONFIG,
  FLAG_KEYS,
  GOFF_YAML,
  GROWTHBOOK_FEATURES,
  LAUNCHDARKLY_DATA,
  S3_DEFAULT,
  UNLEASH_FEATURES,
  type ScenarioId,
} from './scenarios.js';

export interface ScenarioCase {
  /** The users in this library's context shape, in the shared order. */
  contexts: readonly unknown[];
  /** One evaluation, returning the flag's value (or a promise of it, for async APIs). */
  evaluate: (context: never) => unknown;
}

export interface Contender {
  name: string;
  /** Package and version, for the table's footnote. */
  packageLabel: string;
  /** True when the evaluation API returns a promise: the loop awaits each call. */
  async: boolean;
  /** How it is called, for the table's notes. */
  call: string;
  scenarios: Record<ScenarioId, ScenarioCase>;
  close(): Promise<void>;
}

export interface ContenderFactory {
  name: string;
  create(users: readonly BenchUser[]): Promise<Contender>;
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function packageLabel(name: string, dir = join(repoRoot, 'node_modules', name)): string {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string };
    return `${name}@${pkg.version ?? '?'}`;
  } catch {
    return name;
  }
}

/** A fixed time for Vexil's `now`: its results do not depend on the clock for these flags anyway. */
const NOW = new Date('2026-06-01T00:00:00Z');

// --- Vexil ---------------------------------------------------------------------------------------------------------

export const vexil: ContenderFactory = {
  name: 'Vexil',
  async create(users) {
    const snapshot = compileFlags(GOFF_YAML, { format: 'yaml', source: 'bench.yaml' });
    const errors = snapshot.problems.filter((problem) => problem.severity === 'error');
    if (errors.length > 0 || snapshot.flags.size !== 3) {
      throw new Error(`the benchmark flags did not compile: ${errors.map((problem) => problem.message).join('; ')}`);
    }
    // An OpenFeature-shaped context, as a provider receives it.
    const contexts: EvaluationContext[] = users.map((user) => ({ targetingKey: user.key, email: user.email, country: user.country, plan: user.plan }));
    // Typed calls with a default, as an OpenFeature provider makes them (getBooleanValue / getStringValue).
    const boolOptions: EvaluateOptions<boolean> = { now: NOW, defaultValue: false, expectedType: 'boolean' };
    const stringOptions: EvaluateOptions<string> = { now: NOW, defaultValue: S3_DEFAULT, expectedType: 'string' };
    const s1 = FLAG_KEYS.S1;
    const s2 = FLAG_KEYS.S2;
    const s3 = FLAG_KEYS.S3;
    return {
      name: 'Vexil',
      packageLabel: packageLabel('@vexil/core', join(repoRoot, 'packages', 'core')),
      async: false,
      call: '`evaluate(snapshot, key, context, { now, defaultValue, expectedType }).value`',
      scenarios: {
        S1: { contexts, evaluate: (context: EvaluationContext) => evaluate(snapshot, s1, context, boolOptions).value },
        S2: { contexts, evaluate: (context: EvaluationContext) => evaluate(snapshot, s2, context, boolOptions).value },
        S3: { contexts, evaluate: (context: EvaluationContext) => evaluate(snapshot, s3, context, stringOptions).value },
      },
      async close() {},
    };
  },
};

// --- flagd ---------------------------------------------------------------------------------------------------------

export const flagd: ContenderFactory = {
  name: 'flagd-core',
  async create(users) {
    const { FlagdCore } = await import('@openfeature/flagd-core');
    const core = new FlagdCore();
    core.setConfigurations(JSON.stringify(FLAGD_CONFIG));
    const contexts = users.map((user) => ({ targetingKey: user.key, email: user.email, country: user.country, plan: user.plan }));
    type Ctx = (typeof contexts)[number];
    const s1 = FLAG_KEYS.S1;
    const s2 = FLAG_KEYS.S2;
    const s3 = FLAG_KEYS.S3;
    return {
      name: 'flagd-core',
      packageLabel: packageLabel('@openfeature/flagd-core'),
      async: false,
      call: '`FlagdCore#resolveBooleanEvaluation` / `resolveStringEvaluation` (in-process flagd, JsonLogic compiled)',
      scenarios: {
        S1: { contexts, evaluate: (context: Ctx) => core.resolveBooleanEvaluation(s1, false, context).value },
        S2: { contexts, evaluate: (context: Ctx) => core.resolveBooleanEvaluation(s2, false, context).value },
        S3: { contexts, evaluate: (context: Ctx) => core.resolveStringEvaluation(s3, S3_DEFAULT, context).value },
      },
      async close() {},
    };
  },
};

// --- Unleash -------------------------------------------------------------------------------------------------------

export const unleash: ContenderFactory = {
  name: 'Unleash',
  async create(users) {
    const { startUnleash, InMemStorageProvider } = await import('unleash-client');
    const client = await startUnleash({
      appName: 'vexil-core-bench',
      // Required by the client, never contacted: refreshInterval 0 turns polling off, so the bootstrap data is all
      // it ever has.
      url: 'http://127.0.0.1:9/api/',
      refreshInterval: 0,
      disableMetrics: true,
      bootstrap: { data: UNLEASH_FEATURES as never },
      // Keep the backup in memory rather than writing a file to the temp directory.
      storageProvider: new InMemStorageProvider(),
      skipInstanceCountWarning: true,
    });
    const contexts = users.map((user) => ({ userId: user.key, properties: { email: user.email, country: user.country, plan: user.plan } }));
    type Ctx = (typeof contexts)[number];
    const s1 = FLAG_KEYS.S1;
    const s2 = FLAG_KEYS.S2;
    const s3 = FLAG_KEYS.S3;
    return {
      name: 'Unleash',
      packageLabel: packageLabel('unleash-client'),
      async: false,
      call: '`unleash.isEnabled(key, context)` / `unleash.getVariant(key, context).payload.value` (bootstrap data, polling and metrics off)',
      scenarios: {
        S1: { contexts, evaluate: (context: Ctx) => client.isEnabled(s1, context) },
        S2: { contexts, evaluate: (context: Ctx) => client.isEnabled(s2, context) },
        S3: { contexts, evaluate: (context: Ctx) => client.getVariant(s3, context).payload?.value },
      },
      async close() {
        client.destroy();
      },
    };
  },
};

// --- GrowthBook ----------------------------------------------------------------------------------------------------

export const growthbook: ContenderFactory = {
  name: 'GrowthBook',
  async create(users) {
    const { GrowthBookClient } = await import('@growthbook/growthbook');
    // The multi-user server-side client: features are given inline (no apiHost, no clientKey: nothing is fetched).
    const client = new GrowthBookClient().initSync({ payload: { features: GROWTHBOOK_FEATURES } });
    const contexts = users.map((user) => ({ attributes: { id: user.key, email: user.email, country: user.country, plan: user.plan } }));
    type Ctx = (typeof contexts)[number];
    const s1 = FLAG_KEYS.S1;
    const s2 = FLAG_KEYS.S2;
    const s3 = FLAG_KEYS.S3;
    return {
      name: 'GrowthBook',
      packageLabel: packageLabel('@growthbook/growthbook'),
      async: false,
      call: '`GrowthBookClient#isOn(key, userContext)` / `getFeatureValue(key, default, userContext)` (inline payload)',
      scenarios: {
        S1: { contexts, evaluate: (context: Ctx) => client.isOn(s1, context) },
        S2: { contexts, evaluate: (context: Ctx) => client.isOn(s2, context) },
        S3: { contexts, evaluate: (context: Ctx) => client.getFeatureValue(s3, S3_DEFAULT, context) },
      },
      async close() {
        client.destroy();
      },
    };
  },
};

// --- LaunchDarkly --------------------------------------------------------------------------------------------------

export const launchdarkly: ContenderFactory = {
  name: 'LaunchDarkly',
  async create(users) {
    const ld = await import('@launchdarkly/node-server-sdk');
    const dir = await mkdtemp(join(tmpdir(), 'vexil-bench-ld-'));
    const file = join(dir, 'flags.json');
    await writeFile(file, JSON.stringify(LAUNCHDARKLY_DATA));
    const client = ld.init('sdk-offline-benchmark', {
      // The file data source replaces streaming/polling; `offline: true` would serve only defaults, so it stays off.
      updateProcessor: new ld.integrations.FileDataSourceFactory({ paths: [file] }).getFactory(),
      sendEvents: false,
      diagnosticOptOut: true,
      logger: ld.basicLogger({ level: 'warn' }),
    });
    try {
      await client.waitForInitialization({ timeout: 10 });
    } catch (error) {
      client.close();
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    const contexts = users.map((user) => ({ kind: 'user', key: user.key, email: user.email, country: user.country, plan: user.plan }));
    type Ctx = (typeof contexts)[number];
    const s1 = FLAG_KEYS.S1;
    const s2 = FLAG_KEYS.S2;
    const s3 = FLAG_KEYS.S3;
    return {
      name: 'LaunchDarkly',
      packageLabel: packageLabel('@launchdarkly/node-server-sdk'),
      async: true,
      call: '`await client.boolVariation(key, context, false)` / `await client.stringVariation(…)` (file data source, events off)',
      scenarios: {
        S1: { contexts, evaluate: (context: Ctx) => client.boolVariation(s1, context, false) },
        S2: { contexts, evaluate: (context: Ctx) => client.boolVariation(s2, context, false) },
        S3: { contexts, evaluate: (context: Ctx) => client.stringVariation(s3, context, S3_DEFAULT) },
      },
      async close() {
        client.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

export const CONTENDERS: readonly ContenderFactory[] = [vexil, flagd, unleash, growthbook, launchdarkly];
