/**
 * Hot statements that the Postgres adapter prepares once per connection instead of parsing
 * on every call. A statement asks for it by starting with `/*prepare:NAME*\/`; any other
 * dialect (PGlite) runs it as plain SQL, where the marker is only a comment.
 *
 * Why not every statement: a prepared statement's plan can be cached generically, and a
 * generic plan made while `room_events` was small (a seq scan for the head check) stays in use
 * as the table grows: measured 3.2 ms of Postgres CPU per flush instead of 0.4. The Postgres
 * adapter therefore sets `plan_cache_mode = force_custom_plan` on its connections, so it saves
 * only the parse and rewrite: about a quarter of Postgres' CPU per flush.
 */
const MARKER = '/*prepare:';

/** The comment that makes the statement that starts with it prepared under `name`. */
export function preparedAs(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`prepared statement name ${name}: use lower-case letters, digits and _`);
  return `${MARKER}${name}*/`;
}

/** The name the statement asks to be prepared under, or undefined for a plain statement. */
export function preparedNameOf(text: string): string | undefined {
  if (!text.startsWith(MARKER)) return undefined;
  const end = text.indexOf('*/', MARKER.length);
  return end < 0 ? undefined : text.slice(MARKER.length, end);
}
