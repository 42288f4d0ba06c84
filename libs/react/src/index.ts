/**
 * @lectern/react: React hooks over @lectern/client.
 *
 *     const { client, status } = useLectern({ url, getToken });
 *     <LecternProvider client={client}><Session /></LecternProvider>
 *     const { status, participants, messages, session, sendChatMessage } = useRoom('session_42');
 */
export {
  DEFAULT_RENDER_INTERVAL_MS,
  LecternProvider,
  useConnectionStatus,
  useLectern,
  useLecternClient,
  useLecternEvent,
  useRoom,
  type UseLecternResult,
  type UseRoomOptions,
  type UseRoomResult,
} from './hooks.js';
export { holdConnection, holdRoom } from './holds.js';
export { throttleToFrames, type Subscribe } from './throttle.js';
