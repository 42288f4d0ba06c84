/**
 * Small helpers for answering HTTP on uWS: the JSON error shape of PROTOCOL.md §8 with the
 * usual statuses. Every write is corked, so they are safe from async continuations too.
 */
import { ERROR_CODES, type ErrorCode } from '@lectern/protocol';
import type { HttpResponse } from './uws.js';

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  202: '202 Accepted',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

export function errorBody(code: ErrorCode | 'forbidden_origin', message: string): string {
  return JSON.stringify({ error: { code, message } });
}

export function sendJson(res: HttpResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('content-type', 'application/json');
    for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
    res.end(body);
  });
}

export function sendError(
  res: HttpResponse,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, ERROR_CODES[code].status, errorBody(code, message), headers);
}
