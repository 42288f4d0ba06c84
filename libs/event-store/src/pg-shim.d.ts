/**
 * The slice of `pg` this package uses. `@types/pg` is not installed in the workspace; this
 * keeps strict typing without it. Delete this file once `@types/pg` is a dev dependency.
 */
declare module 'pg' {
  import type { PostgresPool, PostgresPoolClient } from 'kysely';

  export interface PoolConfig {
    connectionString?: string;
    max?: number;
    connectionTimeoutMillis?: number;
    idleTimeoutMillis?: number;
    statement_timeout?: number;
    application_name?: string;
  }
  export class Pool implements PostgresPool {
    constructor(config?: PoolConfig);
    options: PoolConfig;
    connect(): Promise<PostgresPoolClient>;
    end(): Promise<void>;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'connect', listener: (client: PostgresPoolClient) => void): this;
  }
  const pg: { Pool: typeof Pool };
  export default pg;
}
