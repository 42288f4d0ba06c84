import { useEffect, useRef, useState } from 'react';
import { isLecternClientError, type ClientFrame, type ServerFrame } from '@lectern/client';
import { useConnectionStatus, useLecternClient, useLecternEvent, useRoom } from '@lectern/react';
import { ConnectionIndicator } from '../components/ConnectionIndicator.js';
import { navigate } from '../router.js';

const LOG_SIZE = 200;

interface LogLine {
  n: number;
  at: number;
  direction: 'in' | 'out' | 'note';
  text: string;
}

/** The connection test page: watch the state machine, measure RTT, poke at frames, force a drop. */
export function TestPage() {
  const client = useLecternClient();
  const status = useConnectionStatus();
  const [roomId, setRoomId] = useState('test');
  const [activeRoom, setActiveRoom] = useState('test');
  const room = useRoom(activeRoom);
  const [text, setText] = useState('test message');
  const [history, setHistory] = useState<{ at: number; state: string; detail?: string }[]>(() => [{ at: Date.now(), state: client.state }]);
  const [rtts, setRtts] = useState<number[]>([]);
  const [log, setLog] = useState<LogLine[]>([]);
  const [paused, setPaused] = useState(false);
  const counter = useRef(0);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  const append = (direction: LogLine['direction'], text: string) => {
    if (pausedRef.current) return;
    const line = { n: ++counter.current, at: Date.now(), direction, text };
    setLog((lines) => [...lines.slice(-(LOG_SIZE - 1)), line]);
  };

  useLecternEvent('state', (s) => setHistory((h) => [...h.slice(-49), { at: Date.now(), state: s.state, ...(s.lastClose && s.state !== 'open' ? { detail: `last close ${s.lastClose.code} ${s.lastClose.reason}`.trim() } : {}) }]));
  useLecternEvent('rtt', (rtt) => setRtts((list) => [...list.slice(-9), rtt]));
  useLecternEvent('frame', (frame: ServerFrame) => append('in', JSON.stringify(frame)));
  useLecternEvent('sent', (frame: ClientFrame) => append('out', JSON.stringify(frame)));
  useLecternEvent('close', ({ code, reason }) => append('note', `socket closed: ${code} ${reason}`));
  useLecternEvent('gap', ({ room: r, expected, got }) => append('note', `gap in ${r}: expected seq ${expected}, got ${got}; rejoining with since`));

  useEffect(() => {
    if (status.state === 'open') void client.ping().catch(() => undefined);
  }, [client, status.state]);

  const sendTest = (count: number) => {
    for (let i = 0; i < count; i++) {
      room.sendChatMessage(count === 1 ? text : `${text} #${i + 1}`).catch((err: unknown) => append('note', `not sent: ${isLecternClientError(err) ? err.code : String(err)}`));
    }
  };

  return (
    <div className="test-page">
      <header className="topbar">
        <button className="link" onClick={() => navigate('/')} aria-label="Back">
          ←
        </button>
        <h1>Connection test</h1>
        <ConnectionIndicator />
      </header>
      <main className="test-grid">
        <section className="card">
          <h2>Connection</h2>
          <dl className="facts">
            <dt>state</dt>
            <dd data-testid="test-state">{status.state}</dd>
            <dt>user</dt>
            <dd>{status.user ? `${status.user.name} (${status.user.role})` : '—'}</dd>
            <dt>connection</dt>
            <dd>{status.connectionId ?? '—'}</dd>
            <dt>failed attempts</dt>
            <dd>{status.attempt}</dd>
            <dt>queued</dt>
            <dd>{status.queued}</dd>
            <dt>last close</dt>
            <dd>{status.lastClose ? `${status.lastClose.code} ${status.lastClose.reason}` : '—'}</dd>
          </dl>
          <div className="buttons">
            <button data-testid="force-disconnect" onClick={() => client.forceDisconnect()}>
              Force disconnect
            </button>
            <button onClick={() => client.reconnectNow()}>Reconnect now</button>
            <button className="danger" onClick={() => (client.state === 'closed' ? client.connect() : client.close())}>
              {status.state === 'closed' ? 'Connect' : 'Close'}
            </button>
          </div>
          <h3>History</h3>
          <ol className="history" data-testid="state-history">
            {history.map((h, i) => (
              <li key={i}>
                <time>{new Date(h.at).toLocaleTimeString()}</time> {h.state}
                {h.detail !== undefined && <span className="detail"> ({h.detail})</span>}
              </li>
            ))}
          </ol>
        </section>

        <section className="card">
          <h2>Round trip</h2>
          <p className="rtt" data-testid="rtt">{status.rtt !== undefined ? `${status.rtt} ms` : '—'}</p>
          <p className="muted">last: {rtts.join(', ') || '—'}</p>
          <button onClick={() => void client.ping().catch((err: unknown) => append('note', `ping failed: ${isLecternClientError(err) ? err.code : String(err)}`))}>Ping</button>

          <h2>Room</h2>
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              setActiveRoom(roomId.trim() || 'test');
            }}
          >
            <input aria-label="Room" value={roomId} onChange={(e) => setRoomId(e.target.value)} />
            <button type="submit">Join</button>
          </form>
          <p className="muted">
            {activeRoom}: {room.status}, seq {room.seq}, {room.count} present, {room.messages.length} messages
          </p>
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              sendTest(1);
            }}
          >
            <input aria-label="Test message" data-testid="test-message" value={text} onChange={(e) => setText(e.target.value)} />
            <button type="submit">Send</button>
            <button type="button" onClick={() => sendTest(10)}>
              Send 10
            </button>
          </form>
          <ul className="mini-chat">
            {room.messages.slice(-8).map((m) => (
              <li key={m.seq}>
                <b>{m.from.name}</b> {m.text}
              </li>
            ))}
          </ul>
        </section>

        <section className="card wide">
          <h2>
            Frames{' '}
            <button className="small" onClick={() => setPaused((p) => !p)}>
              {paused ? 'resume' : 'pause'}
            </button>{' '}
            <button className="small" onClick={() => setLog([])}>
              clear
            </button>
          </h2>
          <ol className="frame-log" data-testid="frame-log">
            {log.map((line) => (
              <li key={line.n} className={`frame frame-${line.direction}`}>
                <span className="dir">{line.direction === 'in' ? '←' : line.direction === 'out' ? '→' : '•'}</span>
                <code>{line.text}</code>
              </li>
            ))}
          </ol>
        </section>
      </main>
    </div>
  );
}
