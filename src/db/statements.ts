// The one way the repositories speak SQL: statements written once, run in the transaction's manager. Built through
// TypeORM's query builders on each request, the same statements cost more CPU in the service than the database spends
// running them.
import type { DataSource, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';

function runnerOf(manager: EntityManager) {
  if (manager.queryRunner === undefined) throw new Error('statements run inside a unit of work');
  return manager.queryRunner;
}

/** Runs a write; returns how many rows it changed. */
export async function execute(manager: EntityManager, sql: string, parameters: unknown[]): Promise<number> {
  const result = await runnerOf(manager).query(sql, parameters, true);
  return result.affected ?? 0;
}

/** Runs a SELECT; returns its rows. Reads may run outside a transaction (SQLite's one shared connection). */
export function select<Row>(manager: EntityManager, sql: string, parameters: unknown[]): Promise<Row[]> {
  return manager.query<Row[]>(sql, parameters);
}

/**
 * The suffix of a SELECT that locks the rows it reads and reads their latest committed version (MySQL/MariaDB). Empty
 * on SQLite, whose one writer already makes every transaction see the latest rows.
 */
export function forUpdate(manager: EntityManager): string {
  return onMySql(manager) ? ' FOR UPDATE' : '';
}

/** Whether the manager speaks to MySQL or MariaDB (TypeORM names MariaDB's data sources `mariadb`), not SQLite. */
export function onMySql(manager: EntityManager): boolean {
  const { type } = manager.connection.options;
  return type === 'mysql' || type === 'mariadb';
}

/** `?, ?, ?` for an IN list of `count` values. */
export const marks = (count: number): string => Array.from({ length: count }, () => '?').join(', ');

/** mysql2 reports the generated key as `insertId`, better-sqlite3 as `lastInsertRowid`. */
function insertedId(raw: unknown): number {
  const id = typeof raw === 'object' && raw !== null && 'insertId' in raw ? raw.insertId : raw;
  return Number(id);
}

/**
 * An INSERT of one row of `target`, of every column but the generated ones, as manager.insert() writes it: each value
 * converted for the column by the driver (dates for SQLite, for instance). Returns the generated id.
 */
export function rowInserter<T extends ObjectLiteral>(
  target: EntityTarget<T>,
): (manager: EntityManager, row: Partial<T>) => Promise<number> {
  const built = new WeakMap<DataSource, { sql: string; columns: ColumnMetadata[] }>();
  return async (manager, row) => {
    const dataSource = manager.connection;
    let statement = built.get(dataSource);
    // Stryker disable next-line ConditionalExpression: building the statement again each time is only slower.
    if (statement === undefined) {
      const metadata = dataSource.getMetadata(target);
      // The generated columns are the auto-increment keys, to which both databases give the next value for a NULL, so
      // leaving them in (as NULL) inserts the same row:
      // Stryker disable next-line MethodExpression,ConditionalExpression: see above.
      const columns = metadata.columns.filter((column) => column.generationStrategy === undefined);
      const escape = (name: string): string => dataSource.driver.escape(name);
      const names = columns.map((c) => escape(c.databaseName)).join(', ');
      const sql = `INSERT INTO ${escape(metadata.tableName)} (${names}) VALUES (${columns.map(() => '?').join(', ')})`;
      statement = { sql, columns };
      built.set(dataSource, statement);
    }
    const values = statement.columns.map(
      (column) => dataSource.driver.preparePersistentValue(column.getEntityValue(row), column) as unknown,
    );
    const result = await runnerOf(manager).query(statement.sql, values, true);
    return insertedId(result.raw);
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

/** Raw queries return SQLite datetimes as UTC text and MySQL ones as Date (the pool runs in UTC). */
export function parseDbDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(`${value.replace(' ', 'T')}Z`);
}

/** Booleans come back as 0/1 from both drivers (and as '0'/'1' text from some MySQL setups). */
export const parseDbBoolean = (value: unknown): boolean => Number(value) !== 0;
