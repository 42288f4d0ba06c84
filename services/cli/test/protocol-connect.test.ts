/**
 * PROTOCOL.md §1: the token is checked during the HTTP upgrade, before a socket exists, and
 * refusals are plain HTTP answers with the JSON error shape.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, startServer, TestClient, token, upgrade, type TestServer } from './context.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'lectern-test';
const ORIGIN = 'https://app.example';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A token with the configured iss/aud (server A requires them). */
function good(claims: Record<string, unknown> = {}, options: Parameters<typeof token>[1] = {}): string {
  return token({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, ...claims }, options);
}

function expectUnauthorized(result: Awaited<ReturnType<typeof upgrade>>): void {
  expect(result.status).toBe(401);
  expect(result.headers['content-type']).toMatch(/application\/json/);
  expect(result.json).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
}

/** Sends raw HTTP on an already accepted socket and resolves with the first response head + body. */
function rawExchange(socket: Socket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const onData = (chunk: Buffer) => {
      data += chunk.toString('utf8');
      const headEnd = data.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const length = Number(/content-length:\s*(\d+)/i.exec(data.slice(0, headEnd))?.[1] ?? 0);
      if (data.length >= headEnd + 4 + length) {
        socket.off('data', onData);
        resolve(data);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(request);
  });
}

const UPGRADE_HEADERS = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\n';

for (const backend of await backends()) {
  describe(`protocol §1 connecting (${backend})`, () => {
    let server: TestServer;
    const clients: TestClient[] = [];
    beforeAll(async () => {
      server = await startServer(backend, { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, ALLOWED_ORIGINS: `${ORIGIN},https://other.example` });
    });
    afterAll(async () => {
      await server?.stop();
    });
    afterEach(() => {
      for (const client of clients.splice(0)) client.close();
    });

    it('accepts a valid token in ?token= and in Authorization: Bearer', async () => {
      const byQuery = await TestClient.connect(server.url, good({ sub: 'q-user' }));
      const byHeader = await TestClient.connect(server.url, good({ sub: 'h-user' }), { query: false });
      clients.push(byQuery, byHeader);
      expect(byQuery.frames[0]).toMatchObject({ type: 'welcome', user: { id: 'q-user' } });
      expect(byHeader.frames[0]).toMatchObject({ type: 'welcome', user: { id: 'h-user' } });
      expect((await upgrade(server, { headers: { authorization: `Bearer ${good()}` } })).status).toBe(101);
    });

    it('401 without a token', async () => {
      expectUnauthorized(await upgrade(server));
      expectUnauthorized(await upgrade(server, { query: 'token=' }));
      expectUnauthorized(await upgrade(server, { headers: { authorization: 'Basic YWxpY2U6cHc=' } }));
    });

    it('401 for a bad signature and for a malformed token', async () => {
      expectUnauthorized(await upgrade(server, { token: good({}, { secret: 'another-secret-0123456789' }) }));
      const valid = good();
      expectUnauthorized(await upgrade(server, { token: `${valid.slice(0, -4)}AAAA` }));
      expectUnauthorized(await upgrade(server, { token: 'not-a-jwt' }));
      expectUnauthorized(await upgrade(server, { token: 'a.b.c' }));
    });

    it('401 for alg: none, with or without a signature', async () => {
      const body = b64url({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, rooms: ['*'], exp: Math.floor(Date.now() / 1000) + 600 });
      expectUnauthorized(await upgrade(server, { token: `${b64url({ alg: 'none', typ: 'JWT' })}.${body}.` }));
      expectUnauthorized(await upgrade(server, { token: good({}, { header: { alg: 'none', typ: 'JWT' } }) }));
      expectUnauthorized(await upgrade(server, { token: good({}, { header: { alg: 'HS512', typ: 'JWT' } }) }));
    });

    it('401 for an expired token and for nbf in the future', async () => {
      const now = Math.floor(Date.now() / 1000);
      expectUnauthorized(await upgrade(server, { token: good({ iat: now - 100, exp: now - 10 }) }));
      expectUnauthorized(await upgrade(server, { token: good({ nbf: now + 600 }) }));
      expect((await upgrade(server, { token: good({ nbf: now - 5 }) })).status).toBe(101);
    });

    it('401 for a wrong or missing iss / aud when configured', async () => {
      expectUnauthorized(await upgrade(server, { token: good({ iss: 'https://evil.test' }) }));
      expectUnauthorized(await upgrade(server, { token: good({ iss: undefined }) }));
      expectUnauthorized(await upgrade(server, { token: good({ aud: 'someone-else' }) }));
      expectUnauthorized(await upgrade(server, { token: good({ aud: undefined }) }));
      expect((await upgrade(server, { token: good({ aud: ['x', AUDIENCE] }) })).status).toBe(101);
    });

    it('401 for a missing, empty or too long sub', async () => {
      expectUnauthorized(await upgrade(server, { token: good({ sub: undefined }) }));
      expectUnauthorized(await upgrade(server, { token: good({ sub: '' }) }));
      expectUnauthorized(await upgrade(server, { token: good({ sub: 'x'.repeat(129) }) }));
      expectUnauthorized(await upgrade(server, { token: good({ sub: 42 }) }));
      expect((await upgrade(server, { token: good({ sub: 'x'.repeat(128) }) })).status).toBe(101);
    });

    it('403 forbidden_origin for an Origin outside the allow-list; listed origins and non-browser clients pass', async () => {
      const refused = await upgrade(server, { token: good(), headers: { origin: 'https://evil.example' } });
      expect(refused.status).toBe(403);
      expect(refused.json).toEqual({ error: { code: 'forbidden_origin', message: expect.any(String) } });
      expect((await upgrade(server, { token: good(), headers: { origin: ORIGIN } })).status).toBe(101);
      expect((await upgrade(server, { token: good(), headers: { origin: 'https://other.example' } })).status).toBe(101);
      // No Origin header: not a browser, so not the cross-site case the allow-list guards (§9).
      expect((await upgrade(server, { token: good() })).status).toBe(101);
    });

    it('the welcome names the verified user with the defaults of the claims', async () => {
      const client = await TestClient.connect(server.url, good({ sub: 'plain' }));
      clients.push(client);
      expect(client.frames[0].user).toEqual({ id: 'plain', name: 'plain', role: 'learner' });
    });
  });

  describe(`protocol §1 RS256, connection limit and draining (${backend})`, () => {
    let server: TestServer;
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

    function rs256(claims: Record<string, unknown>): string {
      const now = Math.floor(Date.now() / 1000);
      const data = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ iat: now, exp: now + 600, rooms: ['*'], ...claims })}`;
      return `${data}.${createSign('RSA-SHA256').update(data).sign(privateKey).toString('base64url')}`;
    }

    beforeAll(async () => {
      server = await startServer(backend, { JWT_SECRET: '', JWT_PUBLIC_KEY: publicPem, LECTERN_MAX_CONNECTIONS: '2' });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('accepts RS256 and refuses HS256 (with any secret, including the public key itself)', async () => {
      expect((await upgrade(server, { token: rs256({ sub: 'alice' }) })).status).toBe(101);
      expectUnauthorized(await upgrade(server, { token: token({ sub: 'alice' }) }));
      expectUnauthorized(await upgrade(server, { token: token({ sub: 'alice' }, { secret: publicPem }) }));
      expectUnauthorized(await upgrade(server, { token: token({ sub: 'alice' }, { header: { alg: 'none' } }) }));
    });

    it('503 unavailable with Retry-After over LECTERN_MAX_CONNECTIONS, and room again once one leaves', async () => {
      const first = await TestClient.connect(server.url, rs256({ sub: 'one' }));
      const second = await TestClient.connect(server.url, rs256({ sub: 'two' }));
      const refused = await upgrade(server, { token: rs256({ sub: 'three' }) });
      expect(refused.status).toBe(503);
      expect(refused.json).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      await first.closeAndWait();
      const third = await TestClient.connect(server.url, rs256({ sub: 'three' }));
      expect(third.frames[0]).toMatchObject({ type: 'welcome', user: { id: 'three' } });
      await Promise.all([second.closeAndWait(), third.closeAndWait()]);
    });

    // Last in this block: it stops the gateway.
    it('503 unavailable with Retry-After while draining; open sockets are closed with 1001', async () => {
      const member = await TestClient.connect(server.url, rs256({ sub: 'member' }));
      // An HTTP connection accepted before the drain starts, so the upgrade reaches the server.
      const socket = netConnect(server.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      const health = await rawExchange(socket, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(health).toMatch(/^HTTP\/1\.1 200/);

      await server.running.gateway!.stop(2000);
      expect(await member.closed()).toBe(1001);
      const answer = await rawExchange(socket, `GET /ws?token=${rs256({ sub: 'late' })} HTTP/1.1\r\nHost: x\r\n${UPGRADE_HEADERS}\r\n`);
      socket.destroy();
      expect(answer).toMatch(/^HTTP\/1\.1 503/);
      expect(answer).toMatch(/\r\nretry-after: \d+\r\n/i);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
    });
  });
}
