// The events feed: an issuer's events oldest first behind a stable cursor, one event with its deliveries, and
// redelivery.
import type { Database } from '../db/database';
import { AppError } from '../errors';
import type { EventBody } from './events';
import { deliveriesOf, type DeliveryView, eventPage, findEvent, requeueEvent } from './outbox-repository';

export type { DeliveryView };

export interface EventsPage {
  events: EventBody[];
  /** The cursor of the next page (`after`): the last event of this one; null when this page is the last so far. */
  next: string | null;
}

/** Events after the cursor event, oldest first. Keyset on insertion order: no gaps, no repeats while events arrive. */
export async function listEvents(
  database: Database,
  issuerId: string,
  page: { after: string | undefined; limit: number },
): Promise<EventsPage> {
  return database.read(async (manager) => {
    let afterRowId = 0;
    if (page.after !== undefined) {
      const cursor = await findEvent(manager, issuerId, page.after);
      if (cursor === undefined) {
        throw new AppError('VALIDATION_FAILED', {
          details: [{ field: 'after', message: 'after must be the id of an event of this issuer' }],
        });
      }
      afterRowId = cursor.rowId;
    }
    // One more than asked: whether there is a next page is known without a second query.
    const rows = await eventPage(manager, issuerId, afterRowId, page.limit + 1);
    const events = rows.slice(0, page.limit).map((row) => row.body);
    return { events, next: rows.length > page.limit ? (events.at(-1)?.id ?? null) : null };
  });
}

export interface EventDetail {
  event: EventBody;
  deliveries: DeliveryView[];
}

export async function getEvent(database: Database, issuerId: string, eventId: string): Promise<EventDetail> {
  return database.read(async (manager) => {
    const found = await findEvent(manager, issuerId, eventId);
    if (found === undefined) throw new AppError('EVENT_NOT_FOUND');
    return { event: found.body, deliveries: await deliveriesOf(manager, found.rowId) };
  });
}

/** Queues the event again, with the same id, for every active subscription to its type. */
export async function redeliverEvent(
  database: Database,
  issuerId: string,
  eventId: string,
): Promise<{ eventId: string; deliveries: number }> {
  const queued = await database.transaction(async (manager) => {
    const found = await findEvent(manager, issuerId, eventId);
    if (found === undefined) throw new AppError('EVENT_NOT_FOUND');
    return requeueEvent(manager, found, new Date());
  });
  return { eventId, deliveries: queued };
}
