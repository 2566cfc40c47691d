"""The queue's Lua scripts: every state change (and every read) is one atomic command.

Keys and arguments are documented above each script; key names come from `keys`.
A worker may only change an entry it still owns (`owns`): a worker whose lease ran
out and whose job another worker took can no longer write its record or ack it.
"""

from __future__ import annotations

from services.common.transport import Script

_OWNS = """
local function owns(stream, group, id, consumer)
  if redis.call('EXISTS', stream) == 0 then return false end
  return #redis.call('XPENDING', stream, group, id, id, 1, consumer) == 1
end
local function save(job_key, events, record, ttl, maxlen)
  redis.call('SET', job_key, record, 'EX', ttl)
  redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', 'job', record)
end
"""

# KEYS: tasks. ARGV: group. Creates the stream and its consumer group if missing.
ENSURE_GROUP = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 1 then
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    if g[2] == ARGV[1] then return 0 end
  end
end
redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
return 1
"""
)

# KEYS: tasks, job, history, events.
# ARGV: group, cap, job_id, task, record, record_ttl, history_size, events_maxlen.
# Returns {1, size} queued; {0, size, record} already known (nothing queued); {-1, size} full.
ENQUEUE = Script(
    """
local size = redis.call('XLEN', KEYS[1])
local known = redis.call('GET', KEYS[2])
if known then return {0, size, known} end
if size >= tonumber(ARGV[2]) then return {-1, size} end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
end
redis.call('XADD', KEYS[1], '*', 'job_id', ARGV[3], 'task', ARGV[4])
redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[6])
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[7]) - 1)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*', 'job', ARGV[5])
return {1, size + 1}
"""
)

# KEYS: tasks, workers. ARGV: group, consumer, lease_ms, worker status, pending scanned.
# Writes the heartbeat, then takes an entry idle past the lease, else a new one.
# Returns nil (the stream is empty), {entry id, fields, deliveries, reclaimed (0/1)},
# or, when nothing could be taken, {ms until the first of (up to `pending scanned`)
# entries in flight or handed back for a retry will have been idle a whole lease, so
# that a poll then retakes it; -1 when none is}.
POLL = Script(
    """
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
if redis.call('XLEN', KEYS[1]) == 0 then return nil end
local entry, reclaimed = nil, 0
local auto = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', 1)
for _, e in ipairs(auto[2]) do
  if e then entry, reclaimed = e, 1 break end
end
if not entry then
  local got = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1,
                         'STREAMS', KEYS[1], '>')
  if got then entry = got[1][2][1] end
end
if not entry then
  local due = -1
  for _, p in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[5]))) do
    local left = math.max(0, tonumber(ARGV[3]) - p[3])
    if due < 0 or left < due then due = left end
  end
  return {due}
end
local p = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
return {entry[1], entry[2], p[1][4], reclaimed}
"""
)

# KEYS: tasks, workers. ARGV: group, consumer, entry id ('' when idle), worker status.
# Writes the heartbeat and, with an entry, renews its lease; 0 (and nothing written)
# when the entry is no longer ours, so a late heartbeat cannot overwrite the status
# that finished or handed back the job.
HEARTBEAT = Script(
    _OWNS
    + """
if ARGV[3] ~= '' then
  if not owns(KEYS[1], ARGV[1], ARGV[3], ARGV[2]) then return 0 end
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
return 1
"""
)

# KEYS: tasks, job, events, workers.
# ARGV: group, consumer, entry id, record, record_ttl, events_maxlen, worker status.
# Saves a progress snapshot and the worker's status (its state follows the job's phase)
# if the entry is still ours (1), else nothing (0).
SAVE_PROGRESS = Script(
    _OWNS
    + """
if not owns(KEYS[1], ARGV[1], ARGV[3], ARGV[2]) then return 0 end
save(KEYS[2], KEYS[3], ARGV[4], ARGV[5], ARGV[6])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[7])
return 1
"""
)

# KEYS: tasks, job, events, workers, dead letters.
# ARGV: group, consumer, entry id, record, record_ttl, events_maxlen, worker status,
#       task ('' unless dead-lettered), error.
# The final record, the worker's status and the ack (and dead letter) in one step;
# 0 (nothing written) when the entry is no longer ours.
FINISH = Script(
    _OWNS
    + """
if not owns(KEYS[1], ARGV[1], ARGV[3], ARGV[2]) then return 0 end
save(KEYS[2], KEYS[3], ARGV[4], ARGV[5], ARGV[6])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[7])
if ARGV[8] ~= '' then
  redis.call('XADD', KEYS[5], '*', 'task', ARGV[8], 'error', ARGV[9])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return 1
"""
)

# KEYS: tasks, job, events, workers.
# ARGV: group, consumer, entry id, idle_ms, record, record_ttl, events_maxlen, worker status.
# Hands the entry back: marked idle for `idle_ms`, so any worker retakes it once it
# has been idle a whole lease (at once when idle_ms = lease). 0 when not ours.
RELEASE = Script(
    _OWNS
    + """
if not owns(KEYS[1], ARGV[1], ARGV[3], ARGV[2]) then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[4], 'JUSTID')
save(KEYS[2], KEYS[3], ARGV[5], ARGV[6], ARGV[7])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[8])
return 1
"""
)

# Reads. KEYS[1] is the key read.
GET = Script("return redis.call('GET', KEYS[1])")
LENGTH = Script("return redis.call('XLEN', KEYS[1])")
HASH = Script("return redis.call('HGETALL', KEYS[1])")
# ARGV: first id (exclusive), count.
STREAM_AFTER = Script("return redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])")

# KEYS: history. ARGV: limit, job key prefix. The records of the newest jobs, newest
# first (one shard: the job keys are derived here, as Redis and Upstash allow).
HISTORY = Script(
    """
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
local job_keys = {}
for i, id in ipairs(ids) do job_keys[i] = ARGV[2] .. id end
return redis.call('MGET', unpack(job_keys))
"""
)
