/**
 * Holds the active room actors of this process: activates a room on its first command,
 * passivates it when it has been empty and quiet for a while, and stops them all on shutdown.
 */
import type { RoomCommand } from '@lectern/protocol';
import { RoomActor, type ActorEnvironment, type Respond } from './room-actor.js';

export class ActorHost {
  private readonly actors = new Map<string, RoomActor>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Actors created since start (each loads snapshot + log): metrics. */
  activations = 0;

  constructor(private readonly env: ActorEnvironment) {
    const every = Math.max(1000, Math.min(env.options.idleMs, 10_000));
    this.sweepTimer = setInterval(() => void this.sweep(), every);
    this.sweepTimer.unref();
  }

  get activeRooms(): number {
    return this.actors.size;
  }

  dispatch(room: string, command: RoomCommand, respond: Respond): void {
    let actor = this.actors.get(room);
    if (actor === undefined) {
      actor = new RoomActor(room, this.env);
      this.activations++;
      if (!this.stopping) this.actors.set(room, actor);
    }
    actor.handle(command, respond);
  }

  /** The actor of a room, if active (tests and inspection). */
  actor(room: string): RoomActor | undefined {
    return this.actors.get(room);
  }

  private async sweep(): Promise<void> {
    const now = this.env.now();
    for (const [room, actor] of this.actors) {
      if (!actor.isIdle(now)) continue;
      this.actors.delete(room);
      await actor.stop();
      this.env.logger.debug({ room }, 'room passivated');
    }
  }

  /**
   * Hand-off of the rooms `leaving` selects (a shard this process stops owning; their commands
   * no longer arrive): waits (bounded) until none of them has work in flight, then stops them,
   * with a final snapshot unless `snapshot` is false (a lost lock: another process may own
   * them already, so drop them without touching the log).
   */
  async release(leaving: (room: string) => boolean, options: { timeoutMs: number; snapshot: boolean }): Promise<number> {
    const actors = [...this.actors].filter(([room]) => leaving(room));
    for (const [room] of actors) this.actors.delete(room);
    const deadline = Date.now() + options.timeoutMs;
    if (options.snapshot) {
      while (Date.now() < deadline && actors.some(([, actor]) => actor.busy)) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    await Promise.all(actors.map(([, actor]) => actor.stop({ snapshot: options.snapshot })));
    return actors.length;
  }

  /** Rooms with an active actor (lease checks). */
  rooms(): IterableIterator<[string, RoomActor]> {
    return this.actors.entries();
  }

  /**
   * Waits (bounded) until no actor has a commit in flight, then stops every actor, writing
   * final snapshots. Commands arriving meanwhile are answered `unavailable`.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && [...this.actors.values()].some((actor) => actor.busy)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all([...this.actors.values()].map((actor) => actor.stop()));
    this.actors.clear();
  }
}
