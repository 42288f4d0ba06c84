import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import {
  LecternClient,
  type AckFrame,
  type ClientEvents,
  type ConnectionState,
  type ConnectionStatus,
  type LecternClientOptions,
  type RoomSnapshot,
  type SessionState,
} from '@lectern/client';
import { holdConnection, holdRoom } from './holds.js';
import { throttleToFrames } from './throttle.js';

const LecternContext = createContext<LecternClient | null>(null);

/** Makes `client` the one `useRoom`, `useConnectionStatus` and `useLecternEvent` use below it. */
export function LecternProvider(props: { client: LecternClient; children?: ReactNode }): ReactNode {
  return createElement(LecternContext.Provider, { value: props.client }, props.children);
}

/** The client given, or the one from the nearest `LecternProvider`. */
export function useLecternClient(client?: LecternClient): LecternClient {
  const fromContext = useContext(LecternContext);
  const found = client ?? fromContext;
  if (found === null) throw new Error('no Lectern client: wrap the tree in <LecternProvider client={...}> or pass the client');
  return found;
}

export interface UseLecternResult {
  client: LecternClient;
  state: ConnectionState;
  status: ConnectionStatus;
}

/**
 * Creates a client for the component's lifetime, connects it while mounted and closes it on
 * unmount. The options are read once: give the component a `key` to start over with new ones.
 * Safe under StrictMode: one socket, however often effects are replayed.
 */
export function useLectern(options: LecternClientOptions): UseLecternResult {
  const [client] = useState(() => new LecternClient(options));
  useEffect(() => holdConnection(client), [client]);
  const status = useConnectionStatus(client);
  return { client, state: status.state, status };
}

/** The connection status (state, reconnect time, queued count, RTT), re-rendering on change. */
export function useConnectionStatus(client?: LecternClient): ConnectionStatus {
  const found = useLecternClient(client);
  return useSyncExternalStore(found.subscribeStatus, found.getStatus, found.getStatus);
}

export interface UseRoomOptions {
  client?: LecternClient;
  /**
   * Coalesce re-renders (default): the first change after a quiet spell renders on the next
   * animation frame, a stream of changes at most once per `renderIntervalMs`. `false` renders
   * on every change.
   */
  throttle?: boolean;
  /** Least time between two renders while changes keep coming; default 250 ms. */
  renderIntervalMs?: number;
}

export const DEFAULT_RENDER_INTERVAL_MS = 250;

export interface UseRoomResult extends RoomSnapshot {
  sendChatMessage(text: string): Promise<AckFrame>;
  updateSession(update: { state?: SessionState; data?: Record<string, unknown> }): Promise<AckFrame>;
  leave(): Promise<void>;
}

/**
 * Joins `roomId` while mounted (once, also under StrictMode) and returns its live state:
 * status, participants, messages, session, the messages still pending, and the actions.
 */
export function useRoom(roomId: string, options: UseRoomOptions = {}): UseRoomResult {
  const client = useLecternClient(options.client);
  const room = useMemo(() => client.room(roomId), [client, roomId]);
  useEffect(() => holdRoom(client, roomId), [client, roomId]);
  const throttle = options.throttle ?? true;
  const interval = options.renderIntervalMs ?? DEFAULT_RENDER_INTERVAL_MS;
  const subscribe = useMemo(() => (throttle ? throttleToFrames(room.subscribe, interval) : room.subscribe), [room, throttle, interval]);
  const snapshot = useSyncExternalStore(subscribe, room.getSnapshot, room.getSnapshot);
  const sendChatMessage = useCallback((text: string) => room.sendChat(text), [room]);
  const updateSession = useCallback((update: { state?: SessionState; data?: Record<string, unknown> }) => room.updateSession(update), [room]);
  const leave = useCallback(() => room.leave(), [room]);
  return { ...snapshot, sendChatMessage, updateSession, leave };
}

/** Calls `handler` for every `type` event of the client; the latest handler is used. */
export function useLecternEvent<K extends keyof ClientEvents>(type: K, handler: (value: ClientEvents[K]) => void, client?: LecternClient): void {
  const found = useLecternClient(client);
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => found.on(type, (value) => latest.current(value)), [found, type]);
}
