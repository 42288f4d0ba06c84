import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkJsonValue, countCodePoints, exceedsCodePoints, isStorableText } from './measure.js';

describe('countCodePoints', () => {
  it('counts a surrogate pair once and a lone surrogate once', () => {
    expect(countCodePoints('')).toBe(0);
    expect(countCodePoints('abc')).toBe(3);
    expect(countCodePoints('🎓x😀')).toBe(3);
    expect(countCodePoints('\ud83c')).toBe(1);
    expect(countCodePoints('\udf93\ud83c')).toBe(2);
  });

  it('agrees with the string iterator', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => countCodePoints(text) === [...text].length));
  });
});

describe('exceedsCodePoints', () => {
  it('agrees with counting, whatever the length', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(30), (text, max) => {
        expect(exceedsCodePoints(text, max)).toBe([...text].length > max);
      }),
    );
  });
});

describe('isStorableText', () => {
  it('refuses NUL and unpaired surrogates, accepts everything else', () => {
    expect(isStorableText('plain, é, 漢字, 🎓')).toBe(true);
    expect(isStorableText('\u0001\u001f')).toBe(true);
    expect(isStorableText('\u0000')).toBe(false);
    expect(isStorableText('\ud83c')).toBe(false);
    expect(isStorableText('\udf93\ud83c')).toBe(false);
  });

  it('agrees with String.prototype.isWellFormed apart from NUL', () => {
    const isWellFormed = (text: string) => (text as unknown as { isWellFormed(): boolean }).isWellFormed();
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(isStorableText(text)).toBe(isWellFormed(text) && !text.includes('\u0000'));
      }),
    );
  });
});

describe('checkJsonValue', () => {
  const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

  it('measures exactly what JSON.stringify writes, in UTF-8 bytes', () => {
    const storable = fc.jsonValue().filter((value) => !/\\u0000|\\ud[89a-f]/i.test(JSON.stringify(value)));
    fc.assert(
      fc.property(storable, fc.nat(300), (value, max) => {
        expect(checkJsonValue(value, max)).toBe(bytes(value) > max ? 'too_large' : 'ok');
      }),
      { numRuns: 3000 },
    );
  });

  it('counts escapes, multi-byte characters and pairs', () => {
    for (const value of ['"\\', '\n\t\b\f\r', '\u0001\u001f', 'é', '漢', '🎓', { 'k"': [true, false, null, -0, 1e21, 0.1] }]) {
      expect(checkJsonValue(value, bytes(value))).toBe('ok');
      expect(checkJsonValue(value, bytes(value) - 1)).toBe('too_large');
    }
  });

  it('counts non-finite numbers as null', () => {
    expect(checkJsonValue({ a: Infinity }, bytes({ a: null }))).toBe('ok');
  });

  it('finds unstorable text in keys and values', () => {
    expect(checkJsonValue({ 'a\u0000': 1 }, 100)).toBe('unstorable_text');
    expect(checkJsonValue({ a: [['\udc00']] }, 100)).toBe('unstorable_text');
  });

  it('stops early on a value far over the limit, without recursion', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(checkJsonValue(deep, 4096)).toBe('too_large');
    expect(checkJsonValue(new Array(1_000_000).fill(0), 4096)).toBe('too_large');
  });
});
