// The TypeORM CLI's data source (migration:run, migration:revert, migration:generate), from the same configuration.
import 'reflect-metadata';
import { loadConfig, loadDotEnv } from './src/config';
import { createDatabase } from './src/db/database';

loadDotEnv();
export default createDatabase(loadConfig().database).dataSource;
