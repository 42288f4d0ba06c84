/**
 * Size checks that run on every frame. They count without allocating, and stop as soon as the
 * answer is known, so an oversized input costs no more than the limit it breaks.
 */

/** Number of Unicode code points in `text`. A lone surrogate counts as one. */
export function countCodePoints(text: string): number {
  let count = text.length;
  const last = text.length - 1;
  for (let i = 0; i < last; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        count--;
        i++;
      }
    }
  }
  return count;
}

/**
 * Whether `text` has more than `max` code points. A code point is one or two UTF-16 units, so
 * `.length` decides alone unless it lies between `max` and `2 * max`; only then do we count.
 */
export function exceedsCodePoints(text: string, max: number): boolean {
  if (text.length <= max) return false;
  if (text.length > max * 2) return true;
  return countCodePoints(text) > max;
}

/**
 * Whether `text` can be stored and replayed as is: no U+0000 and no unpaired surrogate. The
 * event log keeps event data as Postgres `jsonb`, which refuses both, and one refused row
 * fails the whole group-committed batch; so such text is stopped at the edge instead.
 */
export function isStorableText(text: string): boolean {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const unit = text.charCodeAt(i);
    if (unit === 0) return false;
    if (unit >= 0xd800 && unit <= 0xdfff) {
      if (unit > 0xdbff) return false;
      const next = i + 1 < length ? text.charCodeAt(i + 1) : 0;
      if (next < 0xdc00 || next > 0xdfff) return false;
      i++;
    }
  }
  return true;
}

const UNSTORABLE = -1;

/**
 * UTF-8 byte length of `JSON.stringify(text)`, or any number above `budget` once it is known
 * to exceed it, or UNSTORABLE when the text holds U+0000 or an unpaired surrogate.
 */
function jsonStringBytes(text: string, budget: number): number {
  // Every unit costs at least one byte, plus the two quotes.
  let bytes = text.length + 2;
  if (bytes > budget) return bytes;
  bytes = 2;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) {
      if (unit === 0x22 || unit === 0x5c) bytes += 2; // \" and \\
      else if (unit >= 0x20) bytes += 1;
      else if (unit === 0x08 || unit === 0x09 || unit === 0x0a || unit === 0x0c || unit === 0x0d) bytes += 2;
      else if (unit === 0) return UNSTORABLE;
      else bytes += 6; // \u00XX
    } else if (unit < 0x800) {
      bytes += 2;
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = i + 1 < length ? text.charCodeAt(i + 1) : 0;
      if (unit > 0xdbff || next < 0xdc00 || next > 0xdfff) return UNSTORABLE;
      bytes += 4;
      i++;
    } else {
      bytes += 3;
    }
    if (bytes > budget) return bytes;
  }
  return bytes;
}

/** Outcome of `checkJsonValue`. */
export type JsonValueCheck = 'ok' | 'too_large' | 'unstorable_text';

/**
 * Checks a value made by `JSON.parse` before anyone encodes or stores it: `too_large` when the
 * UTF-8 encoding of `JSON.stringify(value)` is longer than `maxBytes`, `unstorable_text` when
 * a key or string fails `isStorableText` (found before the size limit is reached).
 *
 * Walks the value with an explicit stack, never recursion: `JSON.parse` accepts nesting
 * thousands deep that `JSON.stringify` overflows the call stack on. Such a value is always
 * over any sane limit, so it is refused here, and the walk stops as soon as the budget is spent.
 */
export function checkJsonValue(value: unknown, maxBytes: number): JsonValueCheck {
  let budget = maxBytes;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === null) {
      budget -= 4;
    } else if (typeof item === 'string') {
      const cost = jsonStringBytes(item, budget);
      if (cost === UNSTORABLE) return 'unstorable_text';
      budget -= cost;
    } else if (typeof item === 'number') {
      budget -= Number.isFinite(item) ? String(item).length : 4; // non-finite encodes as null
    } else if (typeof item === 'boolean') {
      budget -= item ? 4 : 5;
    } else if (Array.isArray(item)) {
      const length = item.length;
      budget -= length === 0 ? 2 : length + 1; // brackets and commas
      if (budget < 0) return 'too_large';
      for (let i = length - 1; i >= 0; i--) {
        const element: unknown = item[i];
        // JSON.stringify writes null for holes, undefined and functions in an array.
        stack.push(element === undefined || typeof element === 'function' || typeof element === 'symbol' ? null : element);
      }
    } else if (typeof item === 'object') {
      const record = item as Record<string, unknown>;
      let members = 0;
      budget -= 2;
      for (const key of Object.keys(record)) {
        const member = record[key];
        if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
        const cost = jsonStringBytes(key, budget);
        if (cost === UNSTORABLE) return 'unstorable_text';
        budget -= cost + (members === 0 ? 1 : 2); // the colon, and a comma before all but the first
        members++;
        if (budget < 0) return 'too_large';
        stack.push(member);
      }
    }
    if (budget < 0) return 'too_large';
  }
  return 'ok';
}
