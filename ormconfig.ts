// The TypeORM CLI's data source (migration:run, migration:revert, migration:generate), from the same configuration.
import 'reflect-metadata';
import { loadConfigOrExit } from './src/config';
import { createDataSource } from './src/db/data-source';

export default createDataSource(loadConfigOrExit().database);
