// The TypeORM CLI's data source (migration:run, migration:revert, migration:generate), from the same configuration.
import 'reflect-metadata';
import { loadConfig, loadDotEnv } from './src/config';
import { createDataSource } from './src/db/data-source';

loadDotEnv();
export default createDataSource(loadConfig().database);
