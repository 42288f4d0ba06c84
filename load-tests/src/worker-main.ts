import { runClientWorker } from './client-worker.js';
import type { CoordinatorMessage } from './messages.js';

// Entry point of a forked client process: the coordinator talks to it over IPC.
if (!process.send) {
  console.error('worker-main is started by the bench coordinator (child_process.fork), not by hand');
  process.exit(2);
}

// An orphan must not keep sockets open against the server after its coordinator died.
process.on('disconnect', () => process.exit(4));

runClientWorker({
  send: (message) => process.send!(message),
  onMessage: (handler) => process.on('message', (message) => handler(message as CoordinatorMessage)),
  exit: (code) => {
    // Let the last IPC message flush before leaving.
    setImmediate(() => process.exit(code));
  },
});
