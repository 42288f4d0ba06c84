export {
  BusError,
  isBusError,
  logHandlerError,
  type Bus,
  type BusErrorCode,
  type BusHandler,
  type BusMessage,
  type BusOptions,
  type BusStatus,
  type BusStatusListener,
  type BusStatusType,
  type HandlerErrorListener,
  type RequestOptions,
  type SubscribeOptions,
  type Subscription,
} from './bus.js';
export { DEFAULT_SHARD_COUNT, Subjects, fnv1a, isValidSubject, shardOf } from './subjects.js';
export { MEMORY_BUS_DEFAULTS, createMemoryBroker, createMemoryBus, type MemoryBroker, type MemoryBus } from './memory-bus.js';
export { NATS_BUS_DEFAULTS, connectNatsBus, type NatsBus, type NatsBusOptions } from './nats-bus.js';
