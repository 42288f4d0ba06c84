/**
 * What the all-in-one serves besides the protocol: the built web app (services/web/dist) with
 * its client-side routes, and in development the sign-in endpoint that mints tokens.
 *
 *   GET /, /test, /session/:id   index.html (the app routes in the browser)
 *   GET /assets/*, other files   the files of services/web/dist, content-typed, gzipped when asked
 *   POST /dev/token {name, role, id?} → {token, user}
 *       only when the server made its own development secret (no JWT_SECRET or public key,
 *       not NODE_ENV=production); otherwise the route does not exist and the gateway's 404 answers.
 */
import { createSigner } from '@lectern/auth';
import { errorBody, sendJson, type HttpResponse, type TemplatedApp } from '@lectern/gateway';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Config } from './config.js';

/** src/ and dist/ of this package sit at the same depth, so this finds services/web/dist from both. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

export const DEV_TOKEN_TTL_SEC = 12 * 3600;
const DEV_ROLES = new Set(['learner', 'instructor', 'moderator']);
const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_BODY_BYTES = 4096;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Defence in depth for the app's pages: chat text is rendered as text, and even if some markup
 * slipped through, no inline script or foreign resource would run.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

interface StaticFile {
  type: string;
  body: Buffer;
  gzip: Buffer | undefined;
  cache: string;
}

export interface WebRoutesOptions {
  /** The development secret the server generated; undefined when a key is configured. */
  devSecret?: string | undefined;
  webDir?: string;
}

/** The routes to hand to `startGateway({ routes })`. */
export function webRoutes(config: Config, options: WebRoutesOptions = {}): (app: TemplatedApp) => void {
  const files = loadFiles(options.webDir ?? DEFAULT_WEB_DIR);
  const devSecret = !config.production && config.jwt.generated ? options.devSecret : undefined;
  return (app) => {
    const index = files.get('/index.html') ?? notBuilt();
    const serveIndex = (res: HttpResponse, req: { getHeader(name: string): string }) => serve(res, index, req.getHeader('accept-encoding'));
    app.get('/', serveIndex);
    app.get('/test', serveIndex);
    app.get('/session/:id', serveIndex);
    for (const [path, file] of files) {
      if (path === '/index.html') continue;
      app.get(path, (res, req) => serve(res, file, req.getHeader('accept-encoding')));
    }
    if (devSecret !== undefined) app.post('/dev/token', (res) => devToken(res, devSecret, config));
  };
}

function serve(res: HttpResponse, file: StaticFile, acceptEncoding: string): void {
  const gzip = file.gzip !== undefined && /\bgzip\b/.test(acceptEncoding);
  res.cork(() => {
    res.writeStatus('200 OK').writeHeader('content-type', file.type).writeHeader('cache-control', file.cache).writeHeader('x-content-type-options', 'nosniff');
    if (file.type.startsWith('text/html')) res.writeHeader('content-security-policy', CSP).writeHeader('referrer-policy', 'no-referrer');
    if (file.gzip !== undefined) res.writeHeader('vary', 'accept-encoding');
    if (gzip) res.writeHeader('content-encoding', 'gzip');
    res.end(gzip ? file.gzip! : file.body);
  });
}

/** Reads the whole build into memory once: it is small, and uWS handlers must answer synchronously or track aborts. */
function loadFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(root)) return files;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) {
        walk(full);
        continue;
      }
      const path = `/${relative(root, full).split(sep).join('/')}`;
      const type = CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
      const body = readFileSync(full);
      const compressible = /^(text\/|application\/(json|manifest)|image\/svg)/.test(type) && body.length > 1024;
      files.set(path, {
        type,
        body,
        gzip: compressible ? gzipSync(body) : undefined,
        // Vite puts a content hash in every name under assets/: those never change.
        cache: path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      });
    }
  };
  walk(root);
  return files;
}

function notBuilt(): StaticFile {
  const body = Buffer.from(
    '<!doctype html><meta charset="utf-8"><title>Lectern</title><p>The web app is not built. Run <code>npm run build</code> (or <code>npm start</code>, which builds first).</p>',
  );
  return { type: 'text/html; charset=utf-8', body, gzip: undefined, cache: 'no-cache' };
}

function devToken(res: HttpResponse, secret: string, config: Config): void {
  readJsonBody(res, (body) => {
    if (body === undefined || typeof body !== 'object' || body === null) return sendJson(res, 400, errorBody('bad_request', 'send a JSON object {"name": "...", "role": "learner|instructor|moderator"}'));
    const { name, role, id } = body as { name?: unknown; role?: unknown; id?: unknown };
    const trimmed = typeof name === 'string' ? name.trim() : '';
    if (trimmed.length < 1 || trimmed.length > 100) return sendJson(res, 400, errorBody('bad_request', 'name must be 1 to 100 characters'));
    const chosenRole = role ?? 'learner';
    if (typeof chosenRole !== 'string' || !DEV_ROLES.has(chosenRole)) return sendJson(res, 400, errorBody('bad_request', 'role must be learner, instructor or moderator'));
    if (id !== undefined && (typeof id !== 'string' || !USER_ID.test(id))) return sendJson(res, 400, errorBody('bad_request', 'id must be 1 to 64 letters, digits, _ or -'));
    const sub = (id as string | undefined) ?? `${slug(trimmed)}-${randomBytes(3).toString('hex')}`;
    const signer = createSigner({
      secret,
      algorithm: 'HS256',
      ...(config.jwt.issuer !== undefined ? { issuer: config.jwt.issuer } : {}),
      ...(config.jwt.audience !== undefined ? { audience: config.jwt.audience } : {}),
    });
    const token = signer.sign({ sub, name: trimmed, role: chosenRole as 'learner', rooms: ['*'] }, { expiresInSec: DEV_TOKEN_TTL_SEC });
    sendJson(res, 200, JSON.stringify({ token, user: { id: sub, name: trimmed, role: chosenRole } }), { 'cache-control': 'no-store' });
  });
}

function slug(name: string): string {
  return (
    name
      .normalize('NFKD')
      .replace(/[^A-Za-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .toLowerCase()
      .slice(0, 40) || 'user'
  );
}

/** Collects a small JSON body; `undefined` for a body that is not JSON. Too large: 413. */
function readJsonBody(res: HttpResponse, done: (body: unknown) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((chunk, isLast) => {
    if (aborted) return;
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      aborted = true;
      return sendJson(res, 413, errorBody('too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`));
    }
    // uWS reuses the chunk's memory after this callback: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
    if (!isLast) return;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = undefined;
    }
    done(body);
  });
}
