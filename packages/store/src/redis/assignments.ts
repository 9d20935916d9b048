// Sticky experiment assignments in a Redis store: one string key per flag and unit with a PEXPIRE (Redis' clock),
// written with SET NX in one Lua script per call, so servers racing to assign a new unit all read the same answer.
import type { AssignmentRequest, AssignmentStore } from '../types.js';
import { uniqueRequests } from '../util/assignments.js';

type EvalScript = (script: string, keys: string[], args: Array<string | number>) => Promise<unknown>;
/** Deletes the keys matching a MATCH pattern; resolves how many. */
type DeleteMatching = (pattern: string) => Promise<number>;

// ARGV holds (variation, ttl ms, replace) per key.
const ASSIGN = `
local out = {}
for i = 1, #KEYS do
  local variation = ARGV[i * 3 - 2]
  local ttl = ARGV[i * 3 - 1]
  if ARGV[i * 3] == '1' then
    redis.call('SET', KEYS[i], variation, 'PX', ttl)
    out[i] = variation
  elseif redis.call('SET', KEYS[i], variation, 'PX', ttl, 'NX') then
    out[i] = variation
  else
    out[i] = redis.call('GET', KEYS[i])
  end
end
return out
`;

export class RedisAssignmentStore implements AssignmentStore {
  constructor(
    private readonly evalScript: EvalScript,
    private readonly deleteMatching: DeleteMatching,
    /** The environment's key prefix. */
    private readonly prefix: string,
  ) {}

  /** `P assign:<flag length>:<flag>:<unit>`: the length keeps flags that are prefixes of others apart. */
  #flagPrefix(flag: string): string {
    return `${this.prefix}assign:${flag.length}:${flag}:`;
  }

  async assign(requests: readonly AssignmentRequest[]): Promise<string[]> {
    if (requests.length === 0) return [];
    const unique = uniqueRequests(requests);
    const keys = unique.map((request) => this.#flagPrefix(request.flag) + request.unit);
    const args = unique.flatMap((request) => [request.variation, Math.max(1, Math.round(request.ttlMs)), request.replace ? '1' : '0']);
    const reply = (await this.evalScript(ASSIGN, keys, args)) as Array<string | null>;
    const answers = new Map<string, string>();
    unique.forEach((request, i) => answers.set(keys[i]!, reply[i] ?? request.variation));
    return requests.map((request) => answers.get(this.#flagPrefix(request.flag) + request.unit) ?? request.variation);
  }

  clear(flag: string): Promise<number> {
    return this.deleteMatching(`${escapeGlob(this.#flagPrefix(flag))}*`);
  }
}

/** A literal for Redis' MATCH patterns. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
