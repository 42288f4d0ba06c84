import { describe, expect, it } from 'vitest';
import { preparedAs, preparedNameOf } from './prepared-statements.js';

describe('prepared statement markers', () => {
  it('round-trips a name, and leaves other statements plain', () => {
    expect(preparedNameOf(`${preparedAs('lectern_append')} with inserted as (select 1)`)).toBe('lectern_append');
    expect(preparedNameOf('select 1')).toBeUndefined();
    expect(preparedNameOf('/* a comment */ select 1')).toBeUndefined();
    expect(preparedNameOf('/*prepare:unterminated select 1')).toBeUndefined();
  });

  it('refuses names that could break out of the comment', () => {
    expect(() => preparedAs('x*/ drop table room_events; /*')).toThrow(/lower-case/);
  });
});
