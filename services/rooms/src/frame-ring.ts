/**
 * The last N committed frames of one room, by seq: serves `missed` for clients that were
 * away briefly without touching the log. A fixed array used as a circular buffer, so pushing
 * is O(1) and allocation-free once full.
 */
export class FrameRing {
  private readonly frames: (string | undefined)[];
  private head = 0; // seq of the newest frame held, 0 when empty
  private size = 0;

  constructor(readonly capacity: number) {
    this.frames = new Array<string | undefined>(capacity);
  }

  /** Appends the frame of `seq`; seqs must be pushed consecutively. A gap resets the ring. */
  push(seq: number, frame: string): void {
    if (this.size > 0 && seq !== this.head + 1) this.size = 0;
    this.frames[seq % this.capacity] = frame;
    this.head = seq;
    if (this.size < this.capacity) this.size++;
  }

  /** Oldest seq held, or head+1 when empty. */
  get oldest(): number {
    return this.head - this.size + 1;
  }

  /** Frames with afterSeq < seq <= untilSeq, if the ring holds all of them; else undefined. */
  range(afterSeq: number, untilSeq: number): string[] | undefined {
    if (untilSeq > this.head || afterSeq + 1 < this.oldest) return undefined;
    const out: string[] = [];
    for (let seq = afterSeq + 1; seq <= untilSeq; seq++) out.push(this.frames[seq % this.capacity]!);
    return out;
  }

  clear(): void {
    this.size = 0;
    this.head = 0;
  }
}
