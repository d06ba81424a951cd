// What to do with the unread rest of a request's body once the request is
// refused. A client usually sends its whole body before it reads the answer:
// closing the connection under a client still writing makes it see EPIPE or
// a reset instead of the answer. So a short rest is read and dropped (the
// connection then serves the next request); a long or unmeasured one is not
// worth the wait, and the connection is closed after the answer.
import type { IncomingMessage } from 'node:http';

export const DRAIN_REFUSED_BYTES = 1024 * 1024;

/** Whether the body still to come, after the `received` bytes already read, is short enough to read and drop. */
export function worthDraining(req: IncomingMessage, received = 0): boolean {
  const raw = req.headers['content-length'];
  // Node has checked the header's syntax
  return raw !== undefined && Number(raw) - received <= DRAIN_REFUSED_BYTES;
}
