// The statements every delink runs, written once per data source. Built through TypeORM's query builders on each
// request they cost more CPU in the service than the database spends running them (measured by `npm run bench`).
import type { DataSource, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';

/** Runs a write in the manager's transaction; returns how many rows it changed. */
export async function execute(manager: EntityManager, sql: string, parameters: unknown[]): Promise<number> {
  if (manager.queryRunner === undefined) throw new Error('statements run inside a unit of work');
  const result = await manager.queryRunner.query(sql, parameters, true);
  return result.affected ?? 0;
}

/**
 * An INSERT of one row of `target`, of every column but the generated ones, as manager.insert() writes it: each
 * value converted for the column by the driver (dates for SQLite, for instance).
 */
export function rowInserter<T extends ObjectLiteral>(
  target: EntityTarget<T>,
): (manager: EntityManager, row: Partial<T>) => Promise<number> {
  const built = new WeakMap<DataSource, { sql: string; columns: ColumnMetadata[] }>();
  return (manager, row) => {
    const dataSource = manager.connection;
    let statement = built.get(dataSource);
    if (statement === undefined) {
      const metadata = dataSource.getMetadata(target);
      const columns = metadata.columns.filter((column) => column.generationStrategy === undefined);
      const escape = (name: string): string => dataSource.driver.escape(name);
      const sql = `INSERT INTO ${escape(metadata.tableName)} (${columns.map((c) => escape(c.databaseName)).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
      statement = { sql, columns };
      built.set(dataSource, statement);
    }
    const values = statement.columns.map(
      (column) => dataSource.driver.preparePersistentValue(column.getEntityValue(row), column) as unknown,
    );
    return execute(manager, statement.sql, values);
  };
}

/** A column's value converted by the driver as its query builders would (dates for SQLite, for instance). */
export function persistentValue<T extends ObjectLiteral>(
  manager: EntityManager,
  target: EntityTarget<T>,
  propertyName: string,
  value: unknown,
): unknown {
  const column = manager.connection.getMetadata(target).findColumnWithPropertyName(propertyName);
  if (column === undefined) throw new Error(`no column ${propertyName}`);
  return manager.connection.driver.preparePersistentValue(value, column) as unknown;
}
