// k6/experimental/websockets on `ws`, with k6's quirks the scripts must survive: readyState
// compared as a number, no close code on `close`, codes other than 1000/1001 through onerror.
import NodeWebSocket from 'ws';
import { hold } from '../runtime.js';

export class WebSocket {
  onopen: () => void = () => undefined;
  onmessage: (event: { data: string; type: number; timestamp: number }) => void = () => undefined;
  onerror: (event: { error: string; type: number; timestamp: number }) => void = () => undefined;
  onclose: () => void = () => undefined;
  onping: () => void = () => undefined;
  onpong: () => void = () => undefined;
  private readonly socket: NodeWebSocket;

  constructor(url: string, _protocols?: null, _params?: unknown) {
    const release = hold();
    this.socket = new NodeWebSocket(url, { perMessageDeflate: false });
    this.socket.on('open', () => this.onopen());
    this.socket.on('message', (data: Buffer) => this.onmessage({ data: data.toString('utf8'), type: 1, timestamp: Date.now() }));
    this.socket.on('error', (error: Error) => this.onerror({ error: error.message, type: 0, timestamp: Date.now() }));
    this.socket.on('close', (code: number) => {
      if (code !== 1000 && code !== 1001 && code !== 1005) this.onerror({ error: `websocket: close ${code}`, type: 8, timestamp: Date.now() });
      this.onclose();
      release();
    });
  }
  get readyState(): number {
    return this.socket.readyState;
  }
  send(data: string): void {
    this.socket.send(data);
  }
  close(code?: number): void {
    this.socket.close(code);
  }
  ping(): void {
    this.socket.ping();
  }
}
