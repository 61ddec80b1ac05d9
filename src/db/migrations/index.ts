// Every migration, in order. Listed explicitly so compiled code, ts sources and tests load the same set.
import { InitialSchema1763700000000 } from './1763700000000-InitialSchema';

export const MIGRATIONS = [InitialSchema1763700000000];
