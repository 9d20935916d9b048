// The flagd "in-process" provider pattern, reduced to its evaluation path: @openfeature/flagd-core holding the flag
// configuration in memory, wrapped in the smallest OpenFeature server provider (no sync, no connection).
import type { EvaluationContext, JsonValue, Logger, Provider, ResolutionDetails } from '@openfeature/server-sdk';
import { FlagdCore } from '@openfeature/flagd-core';

export class FlagdInProcessProvider implements Provider {
  readonly metadata = { name: 'flagd-core in-process' } as const;
  readonly runsOn = 'server' as const;
  readonly core = new FlagdCore();

  constructor(configuration: unknown) {
    this.core.setConfigurations(JSON.stringify(configuration));
  }

  resolveBooleanEvaluation(key: string, defaultValue: boolean, context: EvaluationContext, logger: Logger): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(this.core.resolveBooleanEvaluation(key, defaultValue, context, logger));
  }

  resolveStringEvaluation(key: string, defaultValue: string, context: EvaluationContext, logger: Logger): Promise<ResolutionDetails<string>> {
    return Promise.resolve(this.core.resolveStringEvaluation(key, defaultValue, context, logger));
  }

  resolveNumberEvaluation(key: string, defaultValue: number, context: EvaluationContext, logger: Logger): Promise<ResolutionDetails<number>> {
    return Promise.resolve(this.core.resolveNumberEvaluation(key, defaultValue, context, logger));
  }

  resolveObjectEvaluation<T extends JsonValue>(key: string, defaultValue: T, context: EvaluationContext, logger: Logger): Promise<ResolutionDetails<T>> {
    return Promise.resolve(this.core.resolveObjectEvaluation(key, defaultValue, context, logger));
  }
}
