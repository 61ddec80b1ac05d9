// Drops the MariaDB database this run created, so runs never pile up or disturb each other (unless the run keeps it
// for the next Jest run of its process: TEST_MARIADB_KEEP_PREFIX, see global-setup.ts).
import { connectAdmin } from './helpers/mariadb';

export default async function globalTeardown(): Promise<void> {
  const name = process.env.TEST_MARIADB_DATABASE_NAME;
  if (
    process.env.TEST_DATABASE !== 'mariadb' ||
    name === undefined ||
    process.env.KEEP_TEST_DATABASE === 'true' ||
    process.env.TEST_MARIADB_KEEP_PREFIX !== undefined
  )
    return;
  const connection = await connectAdmin();
  await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await connection.end();
}
