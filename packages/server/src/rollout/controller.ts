/**
 * The rollout controller: runs inside `vexil serve`, exactly one active across every server over the same store.
 *
 * - Leadership: a lease in the store (`store.leases`), renewed every tick (a third of the lease). A leader that dies
 *   stops renewing; another server takes the lease once it lapses, so a killed leader is replaced within two lease
 *   periods (at most one lease to lapse, plus one tick).
 * - Each tick the leader reads every flag with a `rollout` or a `killSwitch`, measures what is due, asks the pure
 *   decision (`@vexil/analysis`) and applies it as a normal flag write by actor `rollout-controller` (or
 *   `kill-switch`), with the measured figures as the audit reason; the server's notifiers send it like any change.
 * - No step is applied twice: the new state (step, counters, history) is written in the flag itself with
 *   `expectedVersion` = the version the decision was made from, so a second controller deciding from the same version
 *   (a lease that changed hands mid-tick) gets a conflict and writes nothing.
 * - Time comes from `clock` (injectable), so tests run a plan of hours in seconds.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { normalizeRolloutPlan, withRolloutState, type FlagDefinition } from '@vexil/core';
import {
  applyManualCommand,
  decideRollout,
  judgeKillSwitch,
  killSwitchWindowMs,
  measurementRequest,
  startRollout,
  type ManualCommand,
  type MeasurementSource,
  type Measurements,
  type RolloutDecision,
} from '@vexil/analysis';
import { DEFAULT_ENVIRONMENT, DEFAULT_PROJECT, StoreConflictError, type EnvironmentRef, type FlagStore, type LeaseStore, type StoredFlag } from '@vexil/store';

export const CONTROLLER_ACTOR = 'rollout-controller';
export const KILL_SWITCH_ACTOR = 'kill-switch';
export const LEASE_NAME = 'rollout-controller';

/** One controller per environment: default/default keeps today's lease name, others `rollout-controller:<project>/<environment>`. */
export function rolloutLeaseName(ref: EnvironmentRef): string {
  return ref.project === DEFAULT_PROJECT && ref.environment === DEFAULT_ENVIRONMENT ? LEASE_NAME : `${LEASE_NAME}:${ref.project}/${ref.environment}`;
}

interface Log {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export interface RolloutControllerOptions {
  store: FlagStore;
  /** Where gate figures come from (the events store, Prometheus, both combined). None: every gate is inconclusive. */
  source?: MeasurementSource;
  /** Milliseconds since the epoch. Default `Date.now`. */
  clock?: () => number;
  /** Lease duration (real time, the store's clock). Default 15 s; the leader renews every third of it. */
  leaseMs?: number;
  /** How often the leader looks at the flags (real time). Default: a third of the lease. */
  tickMs?: number;
  /** This server's name in the lease. Default host + random suffix. */
  holder?: string;
  /** The lease's name (one controller per environment, see `rolloutLeaseName`). Default `rollout-controller`. */
  leaseName?: string;
  /** Where the lease is held. Default `store.leases` (an environment's store may share the root's). */
  leases?: LeaseStore;
  log?: Log;
  /**
   * Keys of the flags that may need the controller (with a `rollout` or a `killSwitch`), e.g. from the server's
   * in-memory snapshot, so a tick reads only those from the store. Default: every flag, by `store.list()`.
   */
  candidates?: () => string[];
  /** Called after every tick of the leader (tests wait on it). */
  onTick?: (outcome: TickOutcome) => void;
}

export interface TickOutcome {
  leader: boolean;
  actions: Array<{ key: string; action: string; actor: string; reason: string }>;
}

const REASON_LIMIT = 2000;

export class RolloutController {
  readonly holder: string;
  readonly #store: FlagStore;
  readonly #leaseName: string;
  readonly #leases: LeaseStore | undefined;
  readonly #source: MeasurementSource | undefined;
  readonly #clock: () => number;
  readonly #leaseMs: number;
  readonly #tickMs: number;
  readonly #log: Log | undefined;
  readonly #onTick: ((outcome: TickOutcome) => void) | undefined;
  readonly #candidates: (() => string[]) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #killed = false;
  #leader = false;

  constructor(options: RolloutControllerOptions) {
    this.#store = options.store;
    this.#leaseName = options.leaseName ?? LEASE_NAME;
    this.#leases = options.leases ?? options.store.leases;
    this.#source = options.source;
    this.#clock = options.clock ?? Date.now;
    this.#leaseMs = options.leaseMs ?? 15_000;
    this.#tickMs = options.tickMs ?? Math.max(50, Math.floor(this.#leaseMs / 3));
    this.holder = options.holder ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.#log = options.log;
    this.#onTick = options.onTick;
    this.#candidates = options.candidates;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Starts ticking. Stores without leases (the file store) cannot run a controller. */
  start(): void {
    if (!this.#leases) throw new Error(`the ${this.#store.kind} store cannot hold leases: the rollout controller needs a writable SQL or Redis store`);
    this.#stopped = false;
    this.#killed = false;
    const loop = async () => {
      this.#running = this.tick()
        .then(() => undefined)
        .catch((error: unknown) => this.#log?.error({ err: error }, 'rollout controller: tick failed'));
      await this.#running;
      if (!this.#stopped) this.#timer = setTimeout(loop, this.#tickMs);
    };
    this.#timer = setTimeout(loop, 0);
  }

  /** Stops ticking and lets go of the lease, so another server takes over at once. */
  async stop(): Promise<void> {
    const killed = this.#killed;
    this.#halt();
    await this.#running;
    if (this.#leader && !killed) await this.#leases?.release(this.#leaseName, this.holder).catch(() => false);
    this.#leader = false;
  }

  /** Stops ticking without releasing the lease: what a crash looks like to the other servers (tests). */
  kill(): void {
    this.#killed = true;
    this.#halt();
  }

  #halt(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  /** One pass: renew or take the lease; when leader, act on every flag that is due. */
  async tick(): Promise<TickOutcome> {
    const outcome: TickOutcome = { leader: false, actions: [] };
    const lease = await this.#leases!.acquire(this.#leaseName, this.holder, this.#leaseMs);
    if (!lease) {
      if (this.#leader) this.#log?.info({ holder: this.holder }, 'rollout controller: lost the lease');
      this.#leader = false;
      this.#onTick?.(outcome);
      return outcome;
    }
    if (!this.#leader) this.#log?.info({ holder: this.holder, token: lease.token }, 'rollout controller: leading');
    this.#leader = true;
    outcome.leader = true;
    const flags = this.#candidates
      ? (await Promise.all(this.#candidates().map((key) => this.#store.get(key)))).filter((stored) => stored !== undefined)
      : (await this.#store.list()).flags;
    for (const stored of flags) {
      if (this.#stopped) break;
      try {
        if (stored.flag.killSwitch && stored.flag.disable !== true) {
          const action = await this.#checkKillSwitch(stored);
          if (action) {
            outcome.actions.push(action);
            continue;
          }
        }
        if (stored.flag.rollout && stored.flag.disable !== true) {
          const action = await this.#advance(stored);
          if (action) outcome.actions.push(action);
        }
      } catch (error) {
        if (error instanceof StoreConflictError) continue; // someone wrote the flag meanwhile: decide again next tick
        this.#log?.error({ err: error, flag: stored.key }, 'rollout controller: could not act on a flag');
      }
    }
    this.#onTick?.(outcome);
    return outcome;
  }

  async #measure(request: Parameters<MeasurementSource['measure']>[0]): Promise<Measurements | undefined> {
    if (!this.#source) return undefined;
    try {
      const answer = await this.#source.measure(request);
      return { ...answer, queries: answer.queries ?? {} };
    } catch (error) {
      this.#log?.warn({ err: error, flag: request.flagKey }, 'rollout controller: measurement failed (inconclusive)');
      return undefined;
    }
  }

  async #advance(stored: StoredFlag): Promise<TickOutcome['actions'][number] | undefined> {
    const plan = normalizeRolloutPlan(stored.flag.rollout!);
    const now = this.#clock();
    let decision: RolloutDecision;
    const state = stored.flag.rolloutState;
    if (!state) decision = startRollout(plan, stored.flag.defaultRule!, now);
    else {
      if (state.status !== 'running' && state.status !== 'waiting-for-approval') return undefined;
      const request = measurementRequest(stored.key, plan, state, now);
      const early = decideRollout(plan, state, undefined, now);
      if (!early.changed) return undefined; // nothing due: measure nothing
      decision = decideRollout(plan, state, await this.#measure(request), now);
    }
    return this.#write(stored, decision, CONTROLLER_ACTOR);
  }

  async #write(stored: StoredFlag, decision: RolloutDecision, actor: string) {
    if (!decision.changed) return undefined;
    const next = withRolloutState(stored.flag, decision.state);
    await this.#store.put(stored.key, next, { actor, reason: decision.reason.slice(0, REASON_LIMIT), expectedVersion: stored.version });
    this.#log?.info({ flag: stored.key, action: decision.action, percent: decision.state.percent }, `rollout: ${decision.reason.slice(0, 300)}`);
    return { key: stored.key, action: decision.action, actor, reason: decision.reason };
  }

  async #checkKillSwitch(stored: StoredFlag): Promise<TickOutcome['actions'][number] | undefined> {
    const killSwitch = stored.flag.killSwitch!;
    const now = this.#clock();
    const variations = Object.keys(stored.flag.variations ?? {});
    const measured = await this.#measure({
      flagKey: stored.key,
      rolloutVariation: stored.flag.rollout?.variation ?? variations[0] ?? '',
      controlVariation: variations[1] ?? variations[0] ?? '',
      metrics: [{ metric: killSwitch.metric!, quantiles: [] }],
      queries: [],
      from: now - killSwitchWindowMs(killSwitch),
      to: now,
      variations,
    });
    const arms = measured?.arms ?? [measured?.rollout, measured?.control].filter((arm) => arm !== undefined);
    const verdict = judgeKillSwitch(killSwitch, arms);
    if (!verdict.trips) return undefined;
    const reason = `kill switch tripped: ${verdict.reason}`;
    const next: FlagDefinition = { ...stored.flag, disable: true };
    await this.#store.put(stored.key, next, { actor: KILL_SWITCH_ACTOR, reason, expectedVersion: stored.version });
    this.#log?.warn({ flag: stored.key }, reason);
    return { key: stored.key, action: 'kill', actor: KILL_SWITCH_ACTOR, reason };
  }
}

/**
 * A person's command (admin API, CLI), applied by whichever server receives it, as a conditional flag write by that
 * person. Throws `RolloutCommandError` when the command makes no sense in the rollout's state.
 */
export async function applyRolloutCommand(
  store: FlagStore,
  stored: StoredFlag,
  command: ManualCommand,
  actor: string,
  now: number,
  note?: string,
): Promise<{ decision: RolloutDecision; reason: string; version: number; revision: number }> {
  const plan = normalizeRolloutPlan(stored.flag.rollout!);
  const state = stored.flag.rolloutState;
  if (!state) throw new NotStartedError();
  const decision = applyManualCommand(plan, state, command, now, actor);
  const reason = note ? `${decision.reason}: ${note}` : decision.reason;
  const result = await store.put(stored.key, withRolloutState(stored.flag, decision.state), { actor, reason: reason.slice(0, REASON_LIMIT), expectedVersion: stored.version });
  return { decision, reason, version: result.version, revision: result.revision };
}

export class NotStartedError extends Error {
  constructor() {
    super('the rollout has not started yet (the controller starts it on its next tick)');
    this.name = 'NotStartedError';
  }
}
