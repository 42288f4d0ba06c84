// @vitest-environment happy-dom
import { StrictMode, useState } from 'react';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LecternClient } from '@lectern/client';
import { FakeServer, FakeSocket } from '../../client/test/fakes.js';
import { LecternProvider, useLectern, useRoom } from './index.js';

function Room({ id }: { id: string }) {
  const room = useRoom(id);
  const [draft, setDraft] = useState('');
  return (
    <div>
      <p data-testid="status">{room.status}</p>
      <p data-testid="count">{room.count}</p>
      <ul data-testid="participants">{room.participants.map((p) => <li key={p.id}>{p.name} ({p.role})</li>)}</ul>
      <ul data-testid="messages">{room.messages.map((m) => <li key={m.seq}>{m.text}</li>)}</ul>
      <ul data-testid="pending">{room.pending.map((p) => <li key={p.mid}>{p.text}</li>)}</ul>
      <input aria-label="message" value={draft} onChange={(e) => setDraft(e.target.value)} />
      <button onClick={() => void room.sendChatMessage(draft)}>send</button>
    </div>
  );
}

let exposed: LecternClient | undefined;
function App({ roomId = 'r' }: { roomId?: string }) {
  const { client, state, status } = useLectern({ url: 'ws://lectern.test/ws', token: 't', WebSocket: FakeSocket, pingIntervalMs: 0 });
  exposed = client;
  return (
    <LecternProvider client={client}>
      <p data-testid="connection">{state}</p>
      <p data-testid="queued">{status.queued}</p>
      <Room id={roomId} />
    </LecternProvider>
  );
}

beforeEach(() => {
  FakeSocket.reset();
  exposed = undefined;
});
afterEach(() => cleanup());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('useLectern and useRoom', () => {
  it('under StrictMode: one socket, one join, and no socket left after unmount', async () => {
    const server = new FakeServer({ id: 'u1', name: 'Ann', role: 'instructor' });
    const view = render(
      <StrictMode>
        <App />
      </StrictMode>,
    );
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('joined'));
    expect(screen.getByTestId('connection').textContent).toBe('open');
    await sleep(20);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(FakeSocket.last.sentOfType('join_room')).toHaveLength(1);
    expect(FakeSocket.last.sentOfType('leave_room')).toHaveLength(0);
    expect(server.log('r').filter((e) => e.type === 'user_joined')).toHaveLength(1);
    expect(screen.getByTestId('participants').textContent).toBe('Ann (instructor)');

    view.unmount();
    await sleep(20);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(FakeSocket.last.closedWith).toBe(1000);
    expect(exposed!.state).toBe('closed');
  });

  it('renders chat as it arrives and shows an outgoing message as pending until it is acked', async () => {
    const server = new FakeServer();
    server.answerChats = false;
    render(<App />);
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('joined'));
    fireEvent.change(screen.getByLabelText('message'), { target: { value: 'hello' } });
    fireEvent.click(screen.getByText('send'));
    await waitFor(() => expect(screen.getByTestId('pending').textContent).toBe('hello'));
    expect(screen.getByTestId('queued').textContent).toBe('1');
    const chat = FakeSocket.last.sentOfType('chat_message')[0]!;
    await act(async () => {
      FakeSocket.last.receive({ type: 'ack', id: chat.id, room: 'r', seq: 2 });
      FakeSocket.last.receive({ type: 'chat_message', room: 'r', seq: 2, ts: 1, from: { id: 'u1', name: 'U1', role: 'learner' }, text: 'hello', mid: chat.mid });
    });
    await waitFor(() => expect(screen.getByTestId('messages').textContent).toBe('hello'));
    expect(screen.getByTestId('pending').textContent).toBe('');
    expect(screen.getByTestId('queued').textContent).toBe('0');
  });

  it('follows a change of room: leaves the old one, joins the new one', async () => {
    new FakeServer();
    const view = render(<App roomId="a" />);
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('joined'));
    view.rerender(<App roomId="b" />);
    await waitFor(() => expect(FakeSocket.last.sentOfType('leave_room').map((f) => f.room)).toEqual(['a']));
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('joined'));
    expect(FakeSocket.last.sentOfType('join_room').map((f) => f.room)).toEqual(['a', 'b']);
  });

  it('shows the connection dropping and the room resuming', async () => {
    new FakeServer();
    render(<App />);
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('joined'));
    act(() => exposed!.forceDisconnect());
    expect(screen.getByTestId('connection').textContent).toBe('reconnecting');
    await waitFor(() => expect(screen.getByTestId('connection').textContent).toBe('open'), { timeout: 3000 });
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('joined'));
    expect(FakeSocket.instances).toHaveLength(2);
    expect(FakeSocket.last.sentOfType('join_room')[0]!.since).toBeGreaterThan(0);
  });
});
