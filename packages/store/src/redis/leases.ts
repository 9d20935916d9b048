// Leases in a Redis store: a hash per lease with a PEXPIRE (Redis' clock), and a token counter that survives expiry,
// each operation one Lua script so two servers never both win.
import type { Lease, LeaseStore } from '../types.js';

type EvalScript = (script: string, keys: string[], args: Array<string | number>) => Promise<unknown>;

const ACQUIRE = `
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder and holder ~= ARGV[1] then return nil end
local token
if holder then token = tonumber(redis.call('HGET', KEYS[1], 'token')) else token = redis.call('INCR', KEYS[2]) end
redis.call('HSET', KEYS[1], 'holder', ARGV[1])
redis.call('HSET', KEYS[1], 'token', token)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local t = redis.call('TIME')
return {token, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])}
`;

const RELEASE = `
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`;

const GET = `
local holder = redis.call('HGET', KEYS[1], 'holder')
if not holder then return nil end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then return nil end
local t = redis.call('TIME')
return {holder, tonumber(redis.call('HGET', KEYS[1], 'token')), tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl}
`;

export class RedisLeaseStore implements LeaseStore {
  constructor(
    private readonly evalScript: EvalScript,
    private readonly prefix: string,
  ) {}

  #keys(name: string): string[] {
    return [`${this.prefix}lease:${name}`, `${this.prefix}lease-token:${name}`];
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    if (!(ttlMs > 0)) throw new RangeError('a lease needs a positive duration');
    const reply = (await this.evalScript(ACQUIRE, this.#keys(name), [holder, Math.ceil(ttlMs)])) as [number, number] | null;
    if (!reply) return undefined;
    return { name, holder, token: Number(reply[0]), expiresAt: new Date(Number(reply[1])).toISOString() };
  }

  async release(name: string, holder: string): Promise<boolean> {
    return Number(await this.evalScript(RELEASE, this.#keys(name), [holder])) === 1;
  }

  async get(name: string): Promise<Lease | undefined> {
    const reply = (await this.evalScript(GET, this.#keys(name), [])) as [string, number, number] | null;
    if (!reply) return undefined;
    return { name, holder: String(reply[0]), token: Number(reply[1]), expiresAt: new Date(Number(reply[2])).toISOString() };
  }
}
