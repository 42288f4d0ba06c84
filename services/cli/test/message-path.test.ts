import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, startServer, TestClient, token, type TestServer } from './context.js';

for (const backend of await backends()) {
  describe(`message path (${backend})`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(backend);
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('welcome, join, chat: both members get the event in seq order, the sender an ack after commit', async () => {
      const alice = await TestClient.connect(server.url, token({ sub: 'alice', name: 'Alice', role: 'instructor' }));
      const bob = await TestClient.connect(server.url, token({ sub: 'bob' }));
      expect(alice.frames[0]).toMatchObject({ type: 'welcome', protocol: 1, user: { id: 'alice', name: 'Alice', role: 'instructor' } });

      const joinedA = await alice.request({ type: 'join_room', room: 'smoke' });
      expect(joinedA).toMatchObject({ type: 'joined', room: 'smoke', seq: 1, session: { state: 'scheduled' } });
      expect(joinedA.participants).toEqual([{ id: 'alice', name: 'Alice', role: 'instructor', connections: 1 }]);
      const joinedB = await bob.request({ type: 'join_room', room: 'smoke' });
      expect(joinedB.seq).toBe(2);
      await alice.waitFor((f) => f.type === 'user_joined' && f.user.id === 'bob');

      const ack = await bob.request({ type: 'chat_message', room: 'smoke', text: '  hello  ', mid: 'm1' });
      expect(ack).toMatchObject({ type: 'ack', room: 'smoke', seq: 3 });
      const got = await alice.waitFor((f) => f.type === 'chat_message');
      expect(got).toMatchObject({ type: 'chat_message', room: 'smoke', seq: 3, from: { id: 'bob', name: 'bob', role: 'learner' }, text: 'hello', mid: 'm1' });
      await bob.waitFor((f) => f.type === 'chat_message' && f.seq === 3);

      const dup = await bob.request({ type: 'chat_message', room: 'smoke', text: 'hello', mid: 'm1' });
      expect(dup).toMatchObject({ type: 'ack', seq: 3, duplicate: true });

      const pong = await alice.request({ type: 'ping', ts: 42 });
      expect(pong).toMatchObject({ type: 'pong', ts: 42 });

      bob.close();
      await alice.waitFor((f) => f.type === 'user_left' && f.user.id === 'bob' && f.reason === 'disconnected');
      alice.close();
    });
  });
}
