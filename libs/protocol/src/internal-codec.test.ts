import { describe, expect, it } from 'vitest';
import { decodeEventMessage, decodeReply, encodeEventMessage, encodeReply, encodeReplyWithTail } from './internal-codec.js';

describe('internal codec', () => {
  it('round-trips a reply without tail', () => {
    const { reply, tail } = decodeReply(encodeReply({ ok: false, code: 'not_joined', message: 'join first' }));
    expect(reply).toEqual({ ok: false, code: 'not_joined', message: 'join first' });
    expect(tail).toBeUndefined();
  });
  it('keeps a tail with newlines and unicode byte-exact', () => {
    const tailText = '"room":"r","history":[{"text":"a\\nb ü 🎓"}]}';
    const { reply, tail } = decodeReply(encodeReply({ ok: true, seq: 7 }, tailText));
    expect(reply).toEqual({ ok: true, seq: 7 });
    expect(new TextDecoder().decode(tail)).toBe(tailText);
  });
  it('reads event headers without touching the frame', () => {
    const frame = '{"type":"chat_message","room":"r","seq":12345678901,"text":"x"}';
    const m = decodeEventMessage(encodeEventMessage(12345678890, 12345678901, frame));
    expect(m.fromSeq).toBe(12345678890);
    expect(m.seq).toBe(12345678901);
    expect(new TextDecoder().decode(m.frame)).toBe(frame);
  });
  it('builds the same bytes from a tail given in chunks', () => {
    const enc = new TextEncoder();
    const chunks = [enc.encode('"room":"r","participants":[{"name":"Zoë"}]'), enc.encode(',"recovered":true}')];
    expect(encodeReplyWithTail({ ok: true, seq: 3 }, chunks)).toEqual(encodeReply({ ok: true, seq: 3 }, '"room":"r","participants":[{"name":"Zoë"}],"recovered":true}'));
  });
});
