import { PGlite } from '@electric-sql/pglite';
import { defineEventStoreContract } from './event-store.contract.js';
import { createPgliteEventStore } from './pglite-event-store.js';

// One in-memory PGlite for the file: starting one takes seconds.
let pglite: PGlite | undefined;

defineEventStoreContract('PGlite (in-memory)', {
  async open() {
    pglite = new PGlite();
    const store = createPgliteEventStore({ pglite });
    await store.migrate();
    return store;
  },
  async openOther() {
    if (pglite === undefined) throw new Error('open() first');
    return createPgliteEventStore({ pglite });
  },
  async teardown() {
    await pglite?.close();
  },
});
