export { ShmChannel, type ShmChannelOptions } from './shm-channel.js';
export { createRegion, defaultRingBytes, isRegion, type ShmRegion } from './region.js';
