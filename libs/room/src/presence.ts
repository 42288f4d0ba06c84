import type { Participant, UserRef } from '@lectern/protocol';

/** A user with at least one connection in the room. */
export interface PresentUser {
  user: UserRef;
  connections: number;
}

/** A connection in the room: whose it is and which gateway holds its socket. */
export interface HeldConnection {
  id: string;
  userId: string;
  gateway: string;
}

/**
 * Who is in the room, per user and per connection, with an index by gateway so that a dead
 * gateway's connections are found without scanning the room.
 *
 * Every operation a join, leave or chat needs is O(1). Maps keep insertion order, which gives
 * the stable orders the protocol shows: participants by arrival (a user who leaves entirely
 * and comes back arrives again, at the end), a gateway's connections by join.
 */
export class Presence {
  readonly users = new Map<string, PresentUser>();
  readonly connections = new Map<string, HeldConnection>();
  private readonly byGateway = new Map<string, Set<string>>();

  holds(connectionId: string): boolean {
    return this.connections.has(connectionId);
  }

  connectionsOf(userId: string): number {
    return this.users.get(userId)?.connections ?? 0;
  }

  /** The user holding this connection, if the connection is in the room. */
  ownerOf(connectionId: string): PresentUser | undefined {
    const held = this.connections.get(connectionId);
    return held === undefined ? undefined : this.users.get(held.userId);
  }

  /** Gateways holding at least one connection here (lease checks in the actor host). */
  gateways(): string[] {
    return [...this.byGateway.keys()];
  }

  /** Ids of the connections a gateway holds here, in the order they joined (a copy). */
  connectionsOn(gateway: string): string[] {
    const ids = this.byGateway.get(gateway);
    return ids === undefined ? [] : [...ids];
  }

  /**
   * A `user_joined` happened: the user now has `connections` connections. The count comes
   * from the event (the log is the truth), the connection from its meta when present.
   */
  joined(user: UserRef, connections: number, connection: { id: string; gateway: string } | undefined): void {
    if (connection !== undefined) {
      this.dropConnection(connection.id);
      this.connections.set(connection.id, { id: connection.id, userId: user.id, gateway: connection.gateway });
      let ids = this.byGateway.get(connection.gateway);
      if (ids === undefined) this.byGateway.set(connection.gateway, (ids = new Set()));
      ids.add(connection.id);
    }
    this.setCount(user, connections);
  }

  /** A `user_left` happened: the user now has `connections` connections. */
  left(user: UserRef, connections: number, connectionId: string | undefined): void {
    if (connectionId !== undefined) this.dropConnection(connectionId);
    const present = this.users.get(user.id);
    if (connections <= 0) this.users.delete(user.id);
    else if (present !== undefined) present.connections = connections;
    // A user_left for a user not present (only a hand-edited log has one) keeps them absent:
    // a leave never makes anyone appear.
  }

  participants(): Participant[] {
    const out: Participant[] = [];
    for (const { user, connections } of this.users.values()) out.push({ ...user, connections });
    return out;
  }

  /**
   * At most `max` participants, for answers that cannot carry a lecture of 50,000 people
   * (`joined`, the HTTP projection): everyone who is not a `learner` first (the people a
   * member looks for), then learners, each group in order of arrival. O(participants) when the
   * room has more than `max` users, O(max) otherwise.
   */
  listed(max: number): Participant[] {
    const limit = Math.max(0, Math.floor(max));
    if (this.users.size <= limit) return this.participants();
    const staff: Participant[] = [];
    const learners: Participant[] = [];
    for (const { user, connections } of this.users.values()) {
      if (user.role !== 'learner') {
        if (staff.length < limit) staff.push({ ...user, connections });
      } else if (learners.length < limit) {
        learners.push({ ...user, connections });
      }
    }
    return staff.concat(learners.slice(0, Math.max(0, limit - staff.length)));
  }

  private setCount(user: UserRef, connections: number): void {
    if (connections <= 0) {
      this.users.delete(user.id);
      return;
    }
    const present = this.users.get(user.id);
    if (present === undefined) {
      this.users.set(user.id, { user: { id: user.id, name: user.name, role: user.role }, connections });
    } else {
      // The latest join's identity wins: a refreshed token may carry a new name.
      present.user = { id: user.id, name: user.name, role: user.role };
      present.connections = connections;
    }
  }

  private dropConnection(connectionId: string): void {
    const held = this.connections.get(connectionId);
    if (held === undefined) return;
    this.connections.delete(connectionId);
    const ids = this.byGateway.get(held.gateway);
    ids?.delete(connectionId);
    if (ids !== undefined && ids.size === 0) this.byGateway.delete(held.gateway);
  }
}
