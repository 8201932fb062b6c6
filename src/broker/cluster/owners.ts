/**
 * The Lua scripts on the hash `P owners` (client id → the node that has its session), shared by the session claims
 * (sessions.ts) and the adoption of a dead node's sessions (adoption.ts).
 */

/** HGET the owner; take the session if it has none (or is this node already). Returns the other owner, or null. */
export const CLAIM = `
local o = redis.call('HGET', KEYS[1], ARGV[1])
if (not o) or o == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return false
end
return o`;

/** Sets the owner to ARGV[3] if it is ARGV[2] (or none). */
export const SWAP = `
local o = redis.call('HGET', KEYS[1], ARGV[1])
if (not o) or o == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0`;

/** Deletes the owner if it is ARGV[2]. */
export const RELEASE = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
