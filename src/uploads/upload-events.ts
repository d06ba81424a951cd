// Every upload event is one JSON log line (who, key, declared size and
// type, upload id, outcome) and a count in the metrics. The routes fill in
// an UploadFacts as a request goes along; when it ends, record() writes
// the line, whichever way it ended.
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { UploadKind } from './upload-policy.ts';

export type UploadOutcome = 'presigned' | 'created' | 'completed' | 'aborted' | 'refused' | 'failed';

export interface UploadFacts {
  requestId: string;
  kind: UploadKind;
  /** what the request did; absent on success: not an event (signing parts, listing) */
  outcome?: UploadOutcome;
  user?: string;
  key?: string;
  size?: number;
  type?: string;
  uploadId?: string;
  /** bytes this event adds to s3proxy_upload_bytes_total */
  bytes?: number;
  status?: number;
  /** why it was refused or failed (log only) */
  reason?: string;
}

export class UploadEvents {
  readonly #logger: Logger;
  readonly #metrics: Metrics | undefined;

  constructor(logger: Logger, metrics: Metrics | undefined) {
    this.#logger = logger;
    this.#metrics = metrics;
  }

  record(facts: UploadFacts): void {
    const { outcome } = facts;
    if (outcome === undefined) return;
    const line = {
      requestId: facts.requestId,
      event: 'upload',
      kind: facts.kind,
      outcome,
      user: facts.user,
      key: facts.key,
      size: facts.size,
      type: facts.type,
      uploadId: facts.uploadId,
      status: facts.status,
      reason: facts.reason,
    };
    if (outcome === 'failed') this.#logger.error(line, 'upload');
    // somebody else's upload, a cross-site request: worth an operator's look
    else if (outcome === 'refused' && facts.status === 403) this.#logger.warn(line, 'upload');
    else this.#logger.info(line, 'upload');
    if (this.#metrics) {
      this.#metrics.uploads.inc({ kind: facts.kind, outcome });
      if (facts.bytes !== undefined && facts.bytes > 0) this.#metrics.uploadBytes.inc(facts.bytes);
    }
  }
}
