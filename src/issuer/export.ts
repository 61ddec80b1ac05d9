// The audit export: every operation matching a search, streamed as NDJSON or as RFC 4180 CSV, batch by batch, at the
// pace the client reads (back-pressure), so memory stays flat whatever the number of rows.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { Response } from 'express';
import { locals } from '../http/context';
import { requestLog } from '../http/logging';
import { OPERATION_VIEW_COLUMNS, type OperationView } from '../operations/operation-repository';

export const JSON_MEDIA_TYPE = 'application/json';
export const NDJSON_MEDIA_TYPE = 'application/x-ndjson';
export const CSV_MEDIA_TYPE = 'text/csv';
/** What the search answers with, in the order a wildcard Accept (or none) picks them: JSON first. */
export const SEARCH_MEDIA_TYPES = [JSON_MEDIA_TYPE, NDJSON_MEDIA_TYPE, CSV_MEDIA_TYPE] as const;
export type ExportMediaType = typeof NDJSON_MEDIA_TYPE | typeof CSV_MEDIA_TYPE;

/** The CSV columns: every field of an operation, in the order of the JSON view. */
export const CSV_COLUMNS = Object.keys(OPERATION_VIEW_COLUMNS) as (keyof OperationView)[];

/**
 * The free-text columns, whose values a caller chose: a spreadsheet would run one starting with = + - @ (or a tab or
 * CR, per OWASP) as a formula. Those get a leading `'`. The other columns hold ids, codes, enums, digits, IP
 * addresses and timestamps that the service validated, none of which can start so.
 */
export const NEUTRALISED_COLUMNS: readonly (keyof OperationView)[] = [
  'requestorId',
  'reason',
  'source',
  'sessionId',
  'callerId',
  'calledId',
  'correlationId',
];

const FORMULA_START = /^[=+\-@\t\r]/;

export const neutralise = (value: string): string => (FORMULA_START.test(value) ? `'${value}` : value);

function csvRecord(operation: OperationView): string[] {
  return CSV_COLUMNS.map((column) => {
    const value = operation[column];
    if (value === null) return '';
    return NEUTRALISED_COLUMNS.includes(column) ? neutralise(value) : value;
  });
}

async function* ndjsonChunks(batches: AsyncIterable<OperationView[]>): AsyncGenerator<string> {
  // One chunk per batch: a write per row would cost more than the rows.
  for await (const batch of batches) yield `${batch.map((operation) => JSON.stringify(operation)).join('\n')}\n`;
}

async function* csvRecords(batches: AsyncIterable<OperationView[]>): AsyncGenerator<string[]> {
  for await (const batch of batches) for (const operation of batch) yield csvRecord(operation);
}

/** The batches again, the first one (already read) included. */
async function* resumed(
  first: IteratorResult<OperationView[], void>,
  rest: AsyncGenerator<OperationView[], void, undefined>,
): AsyncGenerator<OperationView[]> {
  if (first.done === true) return;
  yield first.value;
  yield* rest;
}

/**
 * Streams the batches as `mediaType`. The first batch is read before the status is sent, so that a database that
 * cannot be reached is still a 503 in the issuer's error body. After that the status cannot change: a failure
 * mid-stream destroys the connection, and the client sees the response end without its final chunk (curl: exit 18,
 * "transfer closed with outstanding read data remaining") rather than an export that looks complete. A client that
 * goes away stops the reads. pipeline() writes with back-pressure: the next batch is read once the client drained
 * the previous ones.
 */
export async function streamExport(
  res: Response,
  batches: AsyncGenerator<OperationView[], void, undefined>,
  mediaType: ExportMediaType,
  filename: string,
): Promise<void> {
  const first = await batches.next();
  const all = resumed(first, batches);
  res.status(200);
  res.setHeader('Vary', 'Accept');
  res.setHeader('Cache-Control', 'no-store');
  if (mediaType === CSV_MEDIA_TYPE) {
    res.setHeader('Content-Type', 'text/csv; charset=utf-8; header=present');
    res.setHeader('Content-Disposition', `attachment; filename="${filename}.csv"`);
  } else {
    res.setHeader('Content-Type', `${NDJSON_MEDIA_TYPE}; charset=utf-8`);
    res.setHeader('Content-Disposition', `attachment; filename="${filename}.ndjson"`);
  }
  res.flushHeaders();
  locals(res).streaming = true;
  try {
    if (mediaType === CSV_MEDIA_TYPE) {
      const csv = stringify({ header: true, columns: CSV_COLUMNS, record_delimiter: 'windows', quoted_string: false });
      await pipeline(Readable.from(csvRecords(all), { highWaterMark: 64 }), csv, res);
    } else {
      await pipeline(Readable.from(ndjsonChunks(all), { highWaterMark: 1 }), res);
    }
  } catch (error) {
    // The client going away is no fault of the export; anything else is logged, and the connection is already gone.
    if (!res.writableEnded && !res.destroyed) res.destroy();
    if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE')
      requestLog(res).error({ err: error }, 'export cut off');
  }
}
