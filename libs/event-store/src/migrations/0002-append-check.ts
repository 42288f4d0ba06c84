import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/**
 * `lectern_append_check`: lets one autocommitted statement abort itself. The group commit's
 * fast path (append-writer.ts) writes a whole flush as a single statement, with no BEGIN or
 * COMMIT round trip; if any row hit the `(room_id, seq)` fence or an expected head is
 * missing, this raises SQLSTATE `LC409`, the statement (and so every row it inserted) rolls
 * back, and the writer redoes the flush on its slow path, which says which call failed.
 */
export const appendCheck: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await sql`create or replace function lectern_append_check(rows_inserted bigint, rows_expected integer, heads_found bigint, heads_expected integer)
      returns boolean language plpgsql as $$
      begin
        if rows_inserted <> rows_expected or heads_found <> heads_expected then
          raise exception using errcode = 'LC409',
            message = format('lectern append: %s of %s rows inserted, %s of %s expected heads found; the flush is redone call by call',
                             rows_inserted, rows_expected, heads_found, heads_expected);
        end if;
        return true;
      end $$`.execute(db);
  },

  async down(db: Kysely<any>): Promise<void> {
    await sql`drop function if exists lectern_append_check(bigint, integer, bigint, integer)`.execute(db);
  },
};
