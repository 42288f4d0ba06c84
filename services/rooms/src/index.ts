export { startRoomsService, type RoomsService, type RoomsServiceDeps } from './rooms-service.js';
export { DEFAULT_ROOMS_OPTIONS, type RoomsOptions } from './options.js';
export { ActorHost } from './actor-host.js';
export { RoomActor, toLoggedEvent } from './room-actor.js';
export { PresenceCoalescer } from './presence-coalescer.js';
export { createRoomsMetrics, startMetricsServer, type RoomsMetrics } from './metrics.js';
export { ShardOwnership, DEFAULT_SHARD_OWNERSHIP_OPTIONS, lockNamespace, shareOf, type ShardOwnershipOptions, type ReleaseMode } from './shard-ownership.js';
export { GatewayLeases, DEFAULT_GATEWAY_LEASE_OPTIONS, type GatewayAnnouncement, type GatewayLeaseOptions } from './gateway-leases.js';
