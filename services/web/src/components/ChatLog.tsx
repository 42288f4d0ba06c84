import { memo, useLayoutEffect, useRef, useState } from 'react';
import type { ChatEntry, PendingMessage } from '@lectern/client';

/** Messages rendered; older ones stay in the client's memory but not in the DOM. */
const RENDERED = 60;
/** Within this many pixels of the bottom the reader counts as following the conversation. */
const STICKY_PX = 48;

export interface FailedMessage {
  key: string;
  text: string;
  reason: string;
}

/** One formatter for all messages: `toLocaleTimeString` with options builds a new one per call, which costs more than rendering the message. */
const TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

const Message = memo(function Message({ entry, own }: { entry: ChatEntry; own: boolean }) {
  return (
    <li className={own ? 'message own' : 'message'} data-testid="chat-message" data-seq={entry.seq}>
      <div className="meta">
        <span className="author">{entry.from.name}</span>
        {entry.from.role !== 'learner' && <span className={`role role-${entry.from.role}`}>{entry.from.role}</span>}
        <time>{TIME.format(entry.ts)}</time>
      </div>
      {/* Text, never HTML: React escapes it. */}
      <p className="text">{entry.text}</p>
    </li>
  );
});

/**
 * The chat: follows new messages while the reader is at the bottom, and leaves a reader who
 * scrolled up where they are, with a button that counts what arrived meanwhile.
 */
export function ChatLog({ messages, pending, failed, me }: { messages: readonly ChatEntry[]; pending: readonly PendingMessage[]; failed: readonly FailedMessage[]; me: string | undefined }) {
  const box = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const seen = useRef(0);
  const [unseen, setUnseen] = useState(0);
  const last = messages.length > 0 ? messages[messages.length - 1]!.seq : 0;
  const shown = messages.length > RENDERED ? messages.slice(-RENDERED) : messages;

  useLayoutEffect(() => {
    const el = box.current;
    if (el === null) return;
    if (atBottom.current) {
      // Past the end is clamped to the bottom: no need to read scrollHeight, which would force a layout.
      el.scrollTop = 1e9;
      seen.current = last;
      setUnseen(0);
    } else {
      let count = 0;
      for (let i = messages.length - 1; i >= 0 && messages[i]!.seq > seen.current; i--) count++;
      setUnseen(count);
    }
  }, [last, pending.length, failed.length, messages]);

  const onScroll = () => {
    const el = box.current!;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight <= STICKY_PX;
    if (atBottom.current) {
      seen.current = last;
      setUnseen(0);
    }
  };
  const jump = () => {
    const el = box.current!;
    el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    seen.current = last;
    setUnseen(0);
  };

  return (
    <div className="chat-log-wrap">
      <div className="chat-log" ref={box} onScroll={onScroll} data-testid="chat-log">
        {messages.length === 0 && pending.length === 0 && <p className="empty">No messages yet. Say hello.</p>}
        <ul>
          {shown.map((m) => (
            <Message key={m.seq} entry={m} own={m.from.id === me} />
          ))}
          {pending.map((p) => (
            <li key={p.mid ?? p.queuedAt} className="message own pending" data-testid="pending-message">
              <div className="meta">
                <span className="author">You</span>
                <span className="badge">{p.state === 'queued' ? 'queued' : 'sending…'}</span>
              </div>
              <p className="text">{p.text}</p>
            </li>
          ))}
          {failed.map((f) => (
            <li key={f.key} className="message own failed" data-testid="failed-message">
              <div className="meta">
                <span className="author">You</span>
                <span className="badge">not sent: {f.reason}</span>
              </div>
              <p className="text">{f.text}</p>
            </li>
          ))}
        </ul>
      </div>
      {unseen > 0 && (
        <button className="new-messages" onClick={jump} data-testid="new-messages">
          {unseen} new message{unseen === 1 ? '' : 's'} ↓
        </button>
      )}
    </div>
  );
}
