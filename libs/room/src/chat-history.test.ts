import type { ChatMessageEvent } from '@lectern/protocol';
import { describe, expect, it } from 'vitest';
import { ChatHistory } from './chat-history.js';

const chat = (seq: number): ChatMessageEvent => ({ type: 'chat_message', room: 'r', seq, ts: seq, from: { id: 'u', name: 'U', role: 'learner' }, text: `${seq}` });

describe('ChatHistory', () => {
  it('keeps the last `capacity` events, oldest first, across wrap-arounds', () => {
    const history = new ChatHistory(3);
    for (let seq = 1; seq <= 8; seq++) {
      history.push(chat(seq));
      const expected = Array.from({ length: Math.min(seq, 3) }, (_, i) => seq - Math.min(seq, 3) + 1 + i);
      expect(history.toArray().map((e) => e.seq)).toEqual(expected);
    }
  });

  it('keeps nothing with capacity 0', () => {
    const history = new ChatHistory(0);
    history.push(chat(1));
    expect(history.toArray()).toEqual([]);
  });
});
