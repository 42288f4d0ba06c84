import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const distributed = { NATS_URL: 'nats://127.0.0.1:4222', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x' };

describe('configuration of shard ownership and leases', () => {
  it('lectern rooms shares shards through locks by default; the all-in-one serves them all', () => {
    expect(loadConfig(distributed, 'rooms').shardOwnership).toBe('locks');
    expect(loadConfig({}, 'start').shardOwnership).toBe('all');
    expect(loadConfig({ ...distributed, LECTERN_SHARD_OWNERSHIP: 'locks' }, 'start').shardOwnership).toBe('locks');
  });

  it('refuses what it cannot do, naming the variable', () => {
    expect(() => loadConfig({ ...distributed, LECTERN_SHARD_OWNERSHIP: 'some' }, 'rooms')).toThrow(/LECTERN_SHARD_OWNERSHIP=some/);
    expect(() => loadConfig({ LECTERN_SHARD_OWNERSHIP: 'locks' }, 'start')).toThrow(ConfigError);
    expect(() => loadConfig({ ...distributed, LECTERN_GATEWAY_LEASE_MS: '10' }, 'rooms')).toThrow(/LECTERN_GATEWAY_LEASE_MS/);
  });

  it('reads the lease and announce periods', () => {
    const config = loadConfig({ ...distributed, LECTERN_GATEWAY_LEASE_MS: '15000', LECTERN_GATEWAY_ANNOUNCE_MS: '3000', LECTERN_OWNERSHIP_TICK_MS: '500' }, 'rooms');
    expect(config.gatewayLeaseMs).toBe(15_000);
    expect(config.gateway.announceMs).toBe(3000);
    expect(config.ownershipTickMs).toBe(500);
  });
});
