import type { ChannelMeasurements } from '../../src/model/calibration.js';

/** What `fmi calibrate` would measure on 4 ranks of the direct channel whose ping-pong is `alpha + bytes / beta`, plus `more` (barrier, fanout, burst...). */
export function directMeasurements(alpha: number, beta: number, more: Partial<ChannelMeasurements> = {}): ChannelMeasurements {
  return {
    channel: 'direct',
    ranks: 4,
    load: [0, 0, 0],
    pingpong: [8, 65536, 1048576].map((bytes) => ({ bytes, seconds: alpha + bytes / beta, iters: 10 })),
    exchange: [],
    legs: [],
    legsAll: [],
    ...more,
  };
}
