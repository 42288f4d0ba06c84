import { useMemo, useRef, useState, type FormEvent } from 'react';
import { isLecternClientError, type Participant, type Role, type SessionState } from '@lectern/client';
import { useConnectionStatus, useLecternEvent, useRoom } from '@lectern/react';
import { ChatLog, type FailedMessage } from '../components/ChatLog.js';
import { ConnectionIndicator } from '../components/ConnectionIndicator.js';
import { navigate, sessionRoom } from '../router.js';
import { toast } from '../toasts.js';

const ROLE_ORDER: Record<Role, number> = { instructor: 0, moderator: 1, service: 2, learner: 3 };
const PARTICIPANTS_SHOWN = 100;
/** Above this many people, joins and leaves are not worth a toast each. */
const PRESENCE_TOASTS_UP_TO = 30;
const PRESENCE_TOAST_GAP_MS = 1500;

const STATE_LABEL: Record<SessionState, string> = { scheduled: 'Scheduled', live: 'Live', paused: 'Paused', ended: 'Ended' };

const REFUSALS: Record<string, string> = {
  room_closed: 'the session has ended',
  forbidden: 'not allowed',
  rate_limited: 'too fast',
  bad_request: 'not accepted',
};

export function SessionPage({ id }: { id: string }) {
  const roomId = sessionRoom(id);
  const room = useRoom(roomId);
  const me = useConnectionStatus().user;
  const [draft, setDraft] = useState('');
  const [failed, setFailed] = useState<FailedMessage[]>([]);
  const canControl = me?.role === 'instructor' || me?.role === 'moderator';
  const lastPresenceToast = useRef(0);
  /** Joins and leaves as toasts in a small room, at most one per PRESENCE_TOAST_GAP_MS: a busy room would be all toasts. */
  const presenceToast = (text: string) => {
    if (room.count > PRESENCE_TOASTS_UP_TO || Date.now() - lastPresenceToast.current < PRESENCE_TOAST_GAP_MS) return;
    lastPresenceToast.current = Date.now();
    toast(text);
  };

  useLecternEvent('room_event', ({ room: r, event, replayed }) => {
    if (r !== roomId || replayed) return;
    if (event.type === 'notification') toast(event.data.body, event.data.level ?? 'info', event.data.title);
    else if (event.type === 'live_session_update' && event.from.id !== me?.id) toast(`${event.from.name}: session ${STATE_LABEL[event.state].toLowerCase()}`, event.state === 'ended' ? 'warning' : 'info');
    else if (event.type === 'user_joined' && event.connections === 1 && event.user.id !== me?.id) presenceToast(`${event.user.name} joined`);
    else if (event.type === 'user_left' && event.connections === 0) presenceToast(`${event.user.name} left`);
  });
  useLecternEvent('reset', ({ room: r }) => {
    if (r === roomId) toast('You were away long enough that the chat was reloaded.', 'warning');
  });

  const send = (event: FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    if (text === '') return;
    setDraft('');
    room.sendChatMessage(text).catch((err: unknown) => {
      const reason = isLecternClientError(err) ? (REFUSALS[err.code] ?? err.code) : 'failed';
      setFailed((list) => [...list.slice(-9), { key: `${Date.now()}-${list.length}`, text, reason }]);
      toast(`Message not sent: ${reason}`, 'error');
    });
  };

  const setState = (state: SessionState) => {
    room.updateSession({ state }).catch((err: unknown) => toast(`Could not set the session ${state}: ${isLecternClientError(err) ? err.code : 'failed'}`, 'error'));
  };

  const participants = useMemo(
    () => [...room.participants].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.name.localeCompare(b.name)),
    [room.participants],
  );
  const byRole = useMemo(() => countRoles(room.participants), [room.participants]);
  const state = room.session.state;

  return (
    <div className="session-page">
      <header className="topbar">
        <button className="link" onClick={() => navigate('/')} aria-label="Back">
          ←
        </button>
        <h1>
          Session <span className="session-id">{id}</span>
        </h1>
        <span className={`session-state state-${state}`} data-testid="session-state">
          {STATE_LABEL[state]}
        </span>
        <ConnectionIndicator />
      </header>

      {room.status === 'error' && <p className="banner banner-error">Cannot join this session: {room.error?.message ?? room.error?.code}</p>}
      {state === 'ended' && <p className="banner" data-testid="ended-banner">This session has ended. The chat is closed.</p>}

      <main className="session-grid">
        <section className="chat-panel" aria-label="Chat">
          <ChatLog messages={room.messages} pending={room.pending} failed={failed} me={me?.id} />
          <form className="composer" onSubmit={send}>
            <input
              aria-label="Message"
              data-testid="chat-input"
              value={draft}
              maxLength={2000}
              placeholder={state === 'ended' ? 'The session has ended' : 'Write a message…'}
              onChange={(e) => setDraft(e.target.value)}
            />
            <button type="submit" data-testid="chat-send" disabled={draft.trim() === ''}>
              Send
            </button>
          </form>
        </section>

        <aside className="side-panel">
          {canControl && (
            <section className="controls" aria-label="Session controls">
              <h2>Session controls</h2>
              <div className="buttons">
                <button data-testid="control-start" disabled={state === 'live' || state === 'ended'} onClick={() => setState('live')}>
                  {state === 'paused' ? 'Resume' : 'Start'}
                </button>
                <button data-testid="control-pause" disabled={state !== 'live'} onClick={() => setState('paused')}>
                  Pause
                </button>
                <button data-testid="control-end" className="danger" disabled={state === 'ended'} onClick={() => setState('ended')}>
                  End
                </button>
              </div>
            </section>
          )}
          <section className="participants" aria-label="Participants">
            <h2>
              Participants <span className="count" data-testid="participant-count">{room.count}</span>
            </h2>
            <p className="roles">
              {Object.entries(byRole)
                .map(([role, n]) => `${n} ${role}${n === 1 ? '' : 's'}`)
                .join(' · ')}
            </p>
            <ul data-testid="participants">
              {participants.slice(0, PARTICIPANTS_SHOWN).map((p) => (
                <li key={p.id} data-testid="participant">
                  <span className="name">{p.name}</span>
                  {p.id === me?.id && <span className="you">you</span>}
                  <span className={`role role-${p.role}`}>{p.role}</span>
                  {p.connections > 1 && <span className="tabs" title="open connections">×{p.connections}</span>}
                </li>
              ))}
            </ul>
            {participants.length > PARTICIPANTS_SHOWN && <p className="more">and {participants.length - PARTICIPANTS_SHOWN} more</p>}
          </section>
        </aside>
      </main>
    </div>
  );
}

function countRoles(participants: readonly Participant[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of participants) counts[p.role] = (counts[p.role] ?? 0) + 1;
  return counts;
}
