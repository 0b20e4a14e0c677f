/**
 * The Redis key layout. Everything of a job lives under one prefix,
 * `fmi:{<job>}:`, with the job id URI-encoded so no job id can reach into
 * another job's keys (':' and braces are escaped). The braces make the job a
 * Redis Cluster hash tag: all keys of a job share a slot, so the multi-key
 * transactions below stay legal on a cluster.
 *
 * - `in:<rank>`  a rank's inbox: a list of message frames, read by that rank only.
 * - `pr:<rank>`  frames the rank took from its inbox and has not acknowledged
 *                yet (a placeholder first), read again after a reconnect.
 * - `kq:<key>`   a stored value's head frame (one list element; getters rotate it).
 * - `kv:<key>`   the rest of a large stored value: its chunks, in order.
 * - `kn:<key>`   how many reads are still due; the last reader deletes the value.
 * - `kr:<key>`   the ranks that read the value (a read counts once; the putter
 *                deletes a value whose unread readers all left).
 * - `alive:<rank>` the rank's heartbeat, a short TTL renewed from a worker thread.
 * - `st:<rank>`  'started' or 'closed': tells a dead rank (started, heartbeat
 *                gone) from one not started yet, and from one that closed.
 *
 * The communicator context travels in each frame's header, so communicators of
 * one job share the inbox but never match each other's messages.
 */
export function jobPrefix(job: string): string {
  return `fmi:{${encodeURIComponent(job)}}:`;
}

/** A SCAN/KEYS pattern for every key of a job (tests and cleanup tools only, never the hot path). */
export function jobPattern(job: string): string {
  // Glob metacharacters that encodeURIComponent leaves alone.
  return jobPrefix(job).replace(/[*?[\]\\]/g, (c) => `\\${c}`) + '*';
}

export interface JobKeys {
  inbox(rank: number): string;
  processing(rank: number): string;
  head(key: string): string;
  chunks(key: string): string;
  readsDue(key: string): string;
  readBy(key: string): string;
  alive(rank: number): string;
  state(rank: number): string;
}

export function jobKeys(job: string): JobKeys {
  const p = jobPrefix(job);
  return {
    inbox: (rank) => `${p}in:${rank}`,
    processing: (rank) => `${p}pr:${rank}`,
    head: (key) => `${p}kq:${key}`,
    chunks: (key) => `${p}kv:${key}`,
    readsDue: (key) => `${p}kn:${key}`,
    readBy: (key) => `${p}kr:${key}`,
    alive: (rank) => `${p}alive:${rank}`,
    state: (rank) => `${p}st:${rank}`,
  };
}
