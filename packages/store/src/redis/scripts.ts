/**
 * The Lua scripts of the Redis store. Every write goes through `APPLY`, so a write is all-or-nothing with respect to
 * other clients: the version check, the revision bump, the flag, its metadata, the audit entry, the change-log entry
 * and the notification happen in one atomic step. Time comes from the Redis server (`TIME`), so every writer shares
 * one clock and audit entries are ordered by time and by stream id alike.
 *
 * Scripts build no key names themselves except in `SNAPSHOT`, which reads every flag key listed in the metadata hash
 * (standalone Redis only; Redis Cluster is not supported).
 */

/** Lua helpers shared by the scripts. */
const COMMON = `
local function decode(raw)
  if not raw then return nil end
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' then return value end
  return nil
end

local function idTime(id)
  if not id then return nil end
  return tonumber(string.match(id, '^(%d+)'))
end

-- Milliseconds since the epoch to ISO 8601 (UTC), by the civil-from-days conversion.
local function iso(ms)
  local sec = math.floor(ms / 1000)
  local milli = ms - sec * 1000
  local days = math.floor(sec / 86400)
  local rem = sec - days * 86400
  local hour = math.floor(rem / 3600)
  local minute = math.floor((rem - hour * 3600) / 60)
  local second = rem - hour * 3600 - minute * 60
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local year = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month
  if mp < 10 then month = mp + 3 else month = mp - 9 end
  if month <= 2 then year = year + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', year, month, day, hour, minute, second, milli)
end
`;

/**
 * Applies a batch of writes atomically.
 *
 * KEYS: 1 revision, 2 meta hash, 3 tombstone hash, 4 audit stream, 5 change-log stream, 6 segments, 7 segments meta,
 *       7+i the target key of operation i (the flag key, or the segments key).
 * ARGV: 1 actor, 2 reason, 3 has reason ('1'/'0'), 4 change-log MAXLEN, 5 channel, 6 number of operations n,
 *       then per operation: op ('put' | 'delete' | 'segments'), flag key, JSON body, expected version ('' = any).
 *
 * Returns {'conflict', i, currentVersion} or {'notfound', i, 0} with nothing changed, or
 * {'ok', revision, version_1, revision_1, …}.
 */
export const APPLY = `${COMMON}
local REV, META, DELETED, AUDIT, CHANGES, SEGMENTS, SEGMETA = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local actor, reason, hasReason, maxlen, channel = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4], ARGV[5]
local n = tonumber(ARGV[6])
local STRIDE = 4

-- 1. Check every precondition before changing anything.
local currents = {}
local bases = {}
for i = 1, n do
  local base = 6 + (i - 1) * STRIDE
  local op, key, expected = ARGV[base + 1], ARGV[base + 2], ARGV[base + 4]
  local metaRaw
  if op == 'segments' then metaRaw = redis.call('GET', SEGMETA) else metaRaw = redis.call('HGET', META, key) end
  local meta = decode(metaRaw)
  local current = 0
  if meta and tonumber(meta.version) then current = tonumber(meta.version) end
  if expected ~= '' and tonumber(expected) ~= current then return {'conflict', i, current} end
  if op == 'delete' and not metaRaw and redis.call('EXISTS', KEYS[7 + i]) == 0 then return {'notfound', i, 0} end
  currents[i] = current
  -- Versions never repeat for a key: a flag created again counts on from its tombstone's version, so a client
  -- holding a version of the deleted flag gets a conflict instead of overwriting the new one.
  bases[i] = current
  if op == 'put' and not metaRaw then
    local tombstone = decode(redis.call('HGET', DELETED, key))
    if tombstone and tonumber(tombstone.version) and tonumber(tombstone.version) > current then bases[i] = tonumber(tombstone.version) end
  end
end

-- 2. One clock (the server's) and one counter for everyone.
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lastAudit = redis.call('XREVRANGE', AUDIT, '+', '-', 'COUNT', 1)[1]
if lastAudit and idTime(lastAudit[1]) and idTime(lastAudit[1]) > ms then ms = idTime(lastAudit[1]) end
local at = iso(ms)
local rev = tonumber(redis.call('GET', REV)) or 0
local lastChange = redis.call('XREVRANGE', CHANGES, '+', '-', 'COUNT', 1)[1]
if lastChange and idTime(lastChange[1]) and idTime(lastChange[1]) > rev then rev = idTime(lastChange[1]) end

-- 3. Apply.
local result = {'ok', 0}
local jactor = cjson.encode(actor)
for i = 1, n do
  local base = 6 + (i - 1) * STRIDE
  local op, key, body = ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
  local target = KEYS[7 + i]
  local before = redis.call('GET', target)
  do
    rev = rev + 1
    local version = bases[i] + 1
    local action, event
    local jkey = cjson.encode(key)
    if op == 'put' then
      if currents[i] > 0 or before then action = 'update' else action = 'create' end
      redis.call('SET', target, body)
      redis.call('HSET', META, key, cjson.encode({version = version, revision = rev, updatedAt = at, updatedBy = actor}))
      redis.call('HDEL', DELETED, key)
      event = '{"type":"put","key":' .. jkey .. ',"flag":' .. body .. ',"version":' .. version .. ',"revision":' .. rev ..
        ',"actor":' .. jactor .. ',"at":"' .. at .. '"}'
    elseif op == 'delete' then
      action = 'delete'
      redis.call('DEL', target)
      redis.call('HDEL', META, key)
      redis.call('HSET', DELETED, key, cjson.encode({version = version, revision = rev, at = at, actor = actor}))
      event = '{"type":"delete","key":' .. jkey .. ',"version":' .. version .. ',"revision":' .. rev ..
        ',"actor":' .. jactor .. ',"at":"' .. at .. '"}'
    else
      action = 'update'
      redis.call('SET', target, body)
      redis.call('SET', SEGMETA, cjson.encode({version = version, revision = rev, updatedAt = at, updatedBy = actor}))
      event = '{"type":"segments","segments":' .. body .. ',"revision":' .. rev .. ',"actor":' .. jactor .. ',"at":"' .. at .. '"}'
    end
    local fields = {'revision', rev, 'key', key, 'action', action, 'actor', actor, 'at', at, 'version', version}
    if hasReason then fields[#fields + 1] = 'reason'; fields[#fields + 1] = reason end
    if before then fields[#fields + 1] = 'before'; fields[#fields + 1] = before end
    if op ~= 'delete' then fields[#fields + 1] = 'after'; fields[#fields + 1] = body end
    redis.call('XADD', AUDIT, ms .. '-*', unpack(fields))
    redis.call('XADD', CHANGES, 'MAXLEN', '~', maxlen, rev .. '-0', 'e', event)
    redis.call('PUBLISH', channel, event)
    result[#result + 1] = version
    result[#result + 1] = rev
  end
end
redis.call('SET', REV, rev)
result[2] = rev
return result
`;

/**
 * Reads the whole store in one atomic step.
 *
 * KEYS: 1 revision, 2 meta hash, 3 segments, 4 segments meta, 5 tombstone hash.
 * ARGV: 1 flag key prefix (`{prefix}flag:`), 2 include tombstones ('1'/'0').
 * Returns {revision, segments, segments meta, {key, meta, …}, {flag JSON per key, in the same order}, {key, tombstone, …}}.
 */
export const SNAPSHOT = `
local meta = redis.call('HGETALL', KEYS[2])
local values = {}
local keys = {}
for i = 1, #meta, 2 do keys[#keys + 1] = ARGV[1] .. meta[i] end
for i = 1, #keys, 500 do
  local chunk = redis.call('MGET', unpack(keys, i, math.min(i + 499, #keys)))
  for j = 1, math.min(500, #keys - i + 1) do values[#values + 1] = chunk[j] end
end
local deleted = {}
if ARGV[2] == '1' then deleted = redis.call('HGETALL', KEYS[5]) end
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[3]), redis.call('GET', KEYS[4]), meta, values, deleted}
`;

/**
 * Revokes an API key: sets `revokedAt` unless already set, and announces the revocation on the key channel (every
 * server ends the key's streams and refuses it at once). KEYS: 1 API key hash. ARGV: 1 id, 2 ISO time, 3 key channel.
 * Returns 0 when there is no such key, 1 otherwise.
 */
export const REVOKE_API_KEY = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local ok, record = pcall(cjson.decode, raw)
if not ok or type(record) ~= 'table' then return 0 end
if not record.revokedAt then
  record.revokedAt = ARGV[2]
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
end
redis.call('PUBLISH', ARGV[3], cjson.encode({type = 'revoked', id = ARGV[1]}))
return 1
`;

/** KEYS: api keys hash (id → record), hash index (secret hash → id). ARGV: id, secret hash, record JSON.
 * Returns 1 when created, -1 when the id exists, -2 when a key with the same secret hash exists. */
export const CREATE_API_KEY = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return -1 end
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[1]) == 0 then return -2 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

/**
 * The prefix's instance id: set to ARGV[1] unless one exists (`SET NX`), then read, in one atomic step (so a key
 * deleted in between cannot leave the caller with nothing). KEYS: 1 instance key. Returns the id in the key.
 */
export const INSTANCE = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`;
