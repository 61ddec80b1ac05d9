// The audit export: every operation matching a search, streamed as NDJSON or as RFC 4180 CSV, batch by batch, at the
// pace the client reads (back-pressure), so memory stays flat whatever the number of rows.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify/sync';
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

/**
 * Rows per chunk written. A write per row would cost more than the rows; a chunk of a whole batch (about 500 kB) is
 * a string V8 puts in its large-object space, which only a full collection frees (an export of a million rows left
 * some 25 MB of them behind). A hundred rows, about 50 kB, stay in the young generation.
 */
export const ROWS_PER_CHUNK = 100;

/** The text of some rows of an export; `first` is the start of the export (CSV: the header line). */
type Serialise = (operations: OperationView[], first: boolean) => string;

const ndjsonText: Serialise = (operations) =>
  operations.length === 0 ? '' : `${operations.map((operation) => JSON.stringify(operation)).join('\n')}\n`;

const csvText: Serialise = (operations, first) =>
  stringify(operations.map(csvRecord), {
    header: first,
    columns: CSV_COLUMNS,
    record_delimiter: 'windows',
    quoted_string: false,
  });

/**
 * The export's text, ROWS_PER_CHUNK rows a chunk. Each batch is turned into text as soon as it is read and its rows
 * let go: while the text drains to a slow client, only the text is held, not a thousand objects of twenty fields that
 * would outlive a young-generation collection or two and be promoted, growing the old generation until a full one.
 */
async function* chunks(batches: AsyncIterable<OperationView[]>, serialise: Serialise): AsyncGenerator<string> {
  let first = true;
  for await (const batch of batches) {
    const texts: string[] = [];
    for (let start = 0; start < batch.length; start += ROWS_PER_CHUNK) {
      texts.push(serialise(batch.slice(start, start + ROWS_PER_CHUNK), first));
      first = false;
    }
    // Each batch is an array of its own, read for this export only.
    batch.length = 0;
    yield* texts;
  }
  // No match at all: the CSV is still its header line.
  if (first) yield serialise([], true);
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
    const serialise = mediaType === CSV_MEDIA_TYPE ? csvText : ndjsonText;
    await pipeline(Readable.from(chunks(all, serialise), { highWaterMark: 1 }), res);
  } catch (error) {
    // The client going away is no fault of the export; anything else is logged, and the connection is already gone.
    if (!res.writableEnded && !res.destroyed) res.destroy();
    if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE')
      requestLog(res).error({ err: error }, 'export cut off');
  }
}
