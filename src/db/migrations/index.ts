// Every migration, in order. Listed explicitly so compiled code, ts sources and tests load the same set.
import { InitialSchema1763700000000 } from './1763700000000-InitialSchema';
import { IdempotencyKeys1763800000000 } from './1763800000000-IdempotencyKeys';
import { ConsumerVocabulary1764600000000 } from './1764600000000-ConsumerVocabulary';
import { IdempotencyErrorCode1764600100000 } from './1764600100000-IdempotencyErrorCode';
import { EventsOutbox1765000000000 } from './1765000000000-EventsOutbox';
import { OperationSearch1765100000000 } from './1765100000000-OperationSearch';
import { AccountLifecycle1765300000000 } from './1765300000000-AccountLifecycle';

export const MIGRATIONS = [
  InitialSchema1763700000000,
  IdempotencyKeys1763800000000,
  ConsumerVocabulary1764600000000,
  IdempotencyErrorCode1764600100000,
  EventsOutbox1765000000000,
  OperationSearch1765100000000,
  AccountLifecycle1765300000000,
];
