export { loadConfig, validateConfig, enabledChannels } from './load.js';
export { DEFAULT_CONFIG } from './defaults.js';
export {
  BACKEND_OF,
  type ChannelName,
  type FmiConfig,
  type Backends,
  type S3Backend,
  type RedisBackend,
  type DirectBackend,
  type Model,
  type FaasModel,
  type S3Model,
  type RedisModel,
  type DirectModel,
} from './types.js';
