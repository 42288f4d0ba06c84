import { useEffect, useState } from 'react';
import { useConnectionStatus } from '@lectern/react';

/** Connected / Reconnecting in Ns / Offline, with the count of messages waiting to be sent. */
export function ConnectionIndicator() {
  const status = useConnectionStatus();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (status.state !== 'reconnecting' || status.retryAt === undefined) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [status.state, status.retryAt]);

  let label: string;
  switch (status.state) {
    case 'open':
      label = status.rtt !== undefined ? `Connected · ${status.rtt} ms` : 'Connected';
      break;
    case 'connecting':
      label = 'Connecting…';
      break;
    case 'reconnecting':
      label = status.retryAt !== undefined ? `Reconnecting in ${Math.max(0, Math.ceil((status.retryAt - now) / 1000))}s` : 'Reconnecting…';
      break;
    case 'closed':
      label = 'Offline';
      break;
  }
  return (
    <span className={`connection connection-${status.state}`} data-testid="connection-status" data-state={status.state} title={status.lastClose ? `last close: ${status.lastClose.code} ${status.lastClose.reason}` : undefined}>
      <span className="dot" aria-hidden="true" />
      {label}
      {status.queued > 0 && <span className="queued" data-testid="queued-count"> · {status.queued} queued</span>}
    </span>
  );
}
