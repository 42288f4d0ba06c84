/**
 * What integration tests share: finding the real services, and isolating each test file in
 * its own Postgres schema and its own bus subject prefix, so files run in parallel.
 *
 * With LECTERN_REQUIRE_SERVICES=1 a missing Postgres or NATS fails the test; without it,
 * tests fall back to PGlite / the in-process bus and say so once.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';

export const POSTGRES_URL = process.env.LECTERN_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const NATS_URL = process.env.LECTERN_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
export const servicesRequired = process.env.LECTERN_REQUIRE_SERVICES === '1';

let postgresProbe: Promise<boolean> | undefined;
let natsProbe: Promise<boolean> | undefined;

async function probePostgres(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function probeNats(): Promise<boolean> {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 2000, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

function decide(name: string, up: boolean): boolean {
  if (up) return true;
  if (servicesRequired) {
    throw new Error(`${name} is not reachable and LECTERN_REQUIRE_SERVICES=1: start it (see .ci/run) or unset the variable`);
  }
  console.warn(`[test-support] ${name} is not reachable: falling back to the embedded implementation`);
  return false;
}

/** True when real Postgres is reachable; throws under LECTERN_REQUIRE_SERVICES=1 when not. */
export async function hasPostgres(): Promise<boolean> {
  postgresProbe ??= probePostgres();
  return decide(`Postgres at ${POSTGRES_URL}`, await postgresProbe);
}

/** True when real NATS is reachable; throws under LECTERN_REQUIRE_SERVICES=1 when not. */
export async function hasNats(): Promise<boolean> {
  natsProbe ??= probeNats();
  return decide(`NATS at ${NATS_URL}`, await natsProbe);
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/**
 * A fresh schema in the test database. The returned URL selects it through `search_path`,
 * so everything that connects with it (pools, migrations) works inside it.
 */
export async function createTestSchema(prefix = 't'): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const schema = uniqueName(prefix).toLowerCase();
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`create schema "${schema}"`);
  } finally {
    await client.end();
  }
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    schema,
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      try {
        await c.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A subject prefix of its own for one test file: `t<pid><random>.rt`. */
export function uniqueSubjectPrefix(): string {
  return `t${process.pid}${randomBytes(3).toString('hex')}.rt`;
}
