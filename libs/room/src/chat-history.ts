import type { ChatMessageEvent } from '@lectern/protocol';

/**
 * The last `capacity` chat events, in a ring so that a push is O(1) however busy the chat.
 * Reading it (`toArray`) copies, oldest first; that happens once per `joined`, not per message.
 */
export class ChatHistory {
  private readonly ring: ChatMessageEvent[] = [];
  /** Index of the oldest event once the ring is full. */
  private start = 0;

  constructor(readonly capacity: number) {}

  push(event: ChatMessageEvent): void {
    if (this.capacity === 0) return;
    if (this.ring.length < this.capacity) {
      this.ring.push(event);
      return;
    }
    this.ring[this.start] = event;
    this.start = (this.start + 1) % this.capacity;
  }

  toArray(): ChatMessageEvent[] {
    return this.start === 0 ? this.ring.slice() : [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
  }
}
