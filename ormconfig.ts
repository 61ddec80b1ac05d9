// The TypeORM CLI's data source (migration:run, migration:revert, migration:generate), from the same configuration.
import 'reflect-metadata';
import { loadConfigOrExit } from './src/config';
import { createDatabase } from './src/db/database';

export default createDatabase(loadConfigOrExit().database).dataSource;
