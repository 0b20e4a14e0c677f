import { describe, expect, it } from 'vitest';
import type { Channel } from '../src/channels/channel.js';
import { createRegion, markGone } from '../src/channels/shm/region.js';
import { NodeArena } from '../src/collectives/node-arena.js';
import { nodeMemoryFor } from '../src/collectives/node-memory.js';

/** Ref'd timers of this process (an unref'd one is not listed). */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('node arena - close', () => {
  it('clears the keep-alive timer a wait holds, so a closed rank does not keep its process alive, and fails the wait', async () => {
    const region = createRegion([0, 1]);
    const memory = nodeMemoryFor(region)!;
    // Rank 0 of a process of two thread ranks; rank 1 never comes to the sync.
    const arena = new NodeArena(memory, region, 0, 2, {} as Channel);
    const waiting = arena.sync(undefined, { rank: 0, op: 'barrier' });
    waiting.catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    // Counted right before and after, with nothing between: the test runner's own timers come and go.
    const held = timers();
    arena.close();
    expect(timers()).toBe(held - 1);
    // Nothing wakes the wait any more: it fails at once, not never.
    await expect(waiting).rejects.toMatchObject({ code: 'FMI_CLOSED' });
    markGone(region, 1);
  });
});
