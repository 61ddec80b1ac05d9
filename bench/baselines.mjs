// The two baselines the service is measured against, each run as a process of its own by bench/run.mjs:
//
//   node bench/baselines.mjs raw      node:http + mysql2, no framework, no auth, no logs: the same SQL as the
//                                     service (delink: START TRANSACTION; the conditional UPDATE; INSERT the operation;
//                                     COMMIT), so it is the least work that gives the same answers.
//   node bench/baselines.mjs express  bare Express 5: express.json() and a fixed envelope, no database: the ceiling
//                                     of the framework the service is built on.
//
// Configuration comes from the environment only: BASELINE_PORT, and for `raw` BASELINE_DATABASE_URL (mysql://),
// BASELINE_POOL_SIZE (the service's DB_POOL_SIZE, so both hold as many connections) and BASELINE_ISSUER_ID (the
// raw baseline has no tokens, so the issuer the service would read from the token is fixed).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const kind = process.argv[2];
const port = Number(process.env.BASELINE_PORT ?? 0);

const DELINK_PATH = '/api/CoreCredit/UserManagement/DeLinkAccount';
const GET_LINKS_PATH = '/api/CoreCredit/UserManagement/GetLinkAccounts';
const REGISTER_PATH = /^\/issuers\/([A-Za-z0-9_-]{10})\/accounts\/(\d{1,19})$/;
const SUCCESS = { Message: 'Return Successfully.', Status: true, ErrorCode: 'ERR01093', ResponseData: {} };

function listening(server, release = async () => undefined) {
  server.listen(port, '127.0.0.1', () => {
    // bench/run.mjs waits for this line before it sends anything.
    console.log(JSON.stringify({ msg: 'listening', kind, port: server.address().port }));
  });
  const stop = () => {
    // A client that still holds a connection must not keep the process alive past the bench's own deadline.
    setTimeout(() => process.exit(1), 5_000).unref();
    server.close(() => {
      release().finally(() => process.exit(0));
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function bareExpress() {
  const { default: express } = await import('express');
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: '16kb' }));
  app.use((_req, res) => {
    res.status(200).json(SUCCESS);
  });
  const server = createServer(app);
  server.keepAliveTimeout = 5_000;
  listening(server);
}

async function raw() {
  const { createPool } = await import('mysql2/promise');
  const issuerId = process.env.BASELINE_ISSUER_ID;
  const poolSize = Number(process.env.BASELINE_POOL_SIZE ?? 10);
  // Pool options as the service's data source sets them (TypeORM passes these through to mysql2).
  const pool = createPool({
    uri: process.env.BASELINE_DATABASE_URL,
    connectionLimit: poolSize,
    maxIdle: poolSize,
    enableKeepAlive: true,
    trace: false,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    supportBigNumbers: true,
    bigNumberStrings: true,
  });

  const send = (res, status, body) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(
      status,
      body === undefined
        ? {}
        : { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) },
    );
    res.end(text);
  };
  const failure = (code, message) => ({ Message: message, Status: false, ErrorCode: code, ResponseData: {} });
  const isText = (value, pattern) => typeof value === 'string' && pattern.test(value);

  /** The operation row the service records, with the same columns and values. */
  const operation = (fields) => ({
    operation_id: randomUUID(),
    error_code: null,
    start_time: fields.start,
    end_time: new Date(),
    requestor_id: 'bench',
    issuer_id: issuerId,
    reason: null,
    reason_code: null,
    source: null,
    session_id: null,
    ip_address: null,
    external_ip: null,
    caller_id: null,
    called_id: null,
    correlation_id: randomUUID(),
    ...fields.row,
  });

  async function inTransaction(work) {
    const connection = await pool.getConnection();
    try {
      await connection.query('START TRANSACTION');
      try {
        const result = await work(connection);
        await connection.query('COMMIT');
        return result;
      } catch (error) {
        await connection.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      connection.release();
    }
  }

  async function delink(body) {
    const start = new Date();
    const key = body.SSUserID.toLowerCase();
    return inTransaction(async (connection) => {
      const [result] = await connection.query(
        'UPDATE `account_links` SET `delinked_at` = ? WHERE is_main = 0 AND delinked_at IS NULL' +
          ' AND account_id = (SELECT `a`.`id` AS `a_id` FROM `accounts` `a` WHERE a.issuer_id = ? AND a.account_number = ?)' +
          ' AND consumer_id = (SELECT `u`.`id` AS `u_id` FROM `consumers` `u` WHERE u.issuer_id = ? AND u.consumer_key = ?)',
        [new Date(), issuerId, body.AccountNumber, issuerId, key],
      );
      let status = 200;
      let answer = SUCCESS;
      if (result.affectedRows !== 1) {
        // The same read the service makes to tell the caller why nothing changed.
        const [rows] = await connection.query(
          'SELECT u.id AS userId, l.is_main AS isMain, l.id AS linkId FROM consumers u' +
            ' LEFT JOIN accounts a ON a.issuer_id = u.issuer_id AND a.account_number = ?' +
            ' LEFT JOIN account_links l ON l.account_id = a.id AND l.consumer_id = u.id WHERE u.issuer_id = ? AND u.consumer_key = ?',
          [body.AccountNumber, issuerId, key],
        );
        const row = rows[0];
        if (row === undefined) [status, answer] = [404, failure('ERR01130', 'The SSUserID is not known.')];
        else if (row.linkId === null)
          [status, answer] = [404, failure('ERR01131', 'The account is not linked to this SSUserID.')];
        else if (Number(row.isMain) !== 0)
          [status, answer] = [409, failure('ERR01140', 'The main account cannot be delinked.')];
        else [status, answer] = [404, failure('ERR01132', 'The account is already delinked from this SSUserID.')];
      }
      const row = operation({
        start,
        row: {
          operation: 'DELINK',
          status: status === 200 ? 'SUCCESSFUL' : 'FAILED',
          error_code: status === 200 ? null : answer.ErrorCode,
          requestor_type: 'USER',
          consumer_id: body.SSUserID,
          consumer_key: key,
          account_number: body.AccountNumber,
          source: body.Source,
          external_ip: body.ExternalIP,
          ip_address: body.IPAddress ?? null,
        },
      });
      await connection.query('INSERT INTO `operations` SET ?', [row]);
      return [status, answer];
    });
  }

  async function linkedAccounts(body) {
    const connection = await pool.getConnection();
    try {
      const [users] = await connection.query(
        'SELECT id, consumer_id AS ssUserId FROM consumers WHERE issuer_id = ? AND consumer_key = ? LIMIT 1',
        [issuerId, body.SSUserID.toLowerCase()],
      );
      const user = users[0];
      if (user === undefined) return [404, failure('ERR01130', 'The SSUserID is not known.')];
      const [rows] = await connection.query(
        'SELECT a.account_number AS accountNumber, l.is_main AS isMain, a.state AS state, l.linked_at AS linkedAt FROM account_links l' +
          ' INNER JOIN accounts a ON a.id = l.account_id WHERE l.consumer_id = ? AND l.delinked_at IS NULL ORDER BY l.is_main DESC, l.linked_at ASC, l.id ASC',
        [user.id],
      );
      const accounts = rows.map((row) => ({
        AccountNumber: row.accountNumber,
        IsMainAccount: Number(row.isMain) !== 0,
        AccountStatus: row.state,
        LinkedOn: row.linkedAt.toISOString(),
      }));
      return [200, { ...SUCCESS, ResponseData: { SSUserID: user.ssUserId, Accounts: accounts } }];
    } finally {
      connection.release();
    }
  }

  async function register(accountNumber, body) {
    const start = new Date();
    const key = body.consumerId.toLowerCase();
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await inTransaction(async (connection) => {
          const now = new Date();
          const [existing] = await connection.query(
            'SELECT a.id AS accountId, l.id AS linkId, u.consumer_key AS ownerKey FROM accounts a INNER JOIN account_links l ON l.account_id = a.id' +
              ' INNER JOIN consumers u ON u.id = l.consumer_id WHERE a.issuer_id = ? AND a.account_number = ? LIMIT 1',
            [issuerId, accountNumber],
          );
          let status = 204;
          const found = existing[0];
          if (found !== undefined && found.ownerKey !== key) {
            status = 409;
          } else if (found !== undefined) {
            await connection.query('UPDATE accounts SET state = ?, product_id = ?, updated_at = ? WHERE id = ?', [
              body.state,
              body.accountProductId ?? null,
              now,
              found.accountId,
            ]);
            await connection.query(
              'UPDATE account_links SET delinked_at = NULL, linked_at = ? WHERE id = ? AND delinked_at IS NOT NULL',
              [now, found.linkId],
            );
          } else {
            const [users] = await connection.query(
              'SELECT id FROM consumers WHERE issuer_id = ? AND consumer_key = ? LIMIT 1',
              [issuerId, key],
            );
            let userId = users[0]?.id;
            const isMain = userId === undefined;
            if (isMain) {
              const [inserted] = await connection.query('INSERT INTO consumers SET ?', [
                { issuer_id: issuerId, consumer_id: body.consumerId, consumer_key: key, created_at: now },
              ]);
              userId = inserted.insertId;
            }
            const [account] = await connection.query('INSERT INTO accounts SET ?', [
              {
                issuer_id: issuerId,
                account_number: accountNumber,
                product_id: body.accountProductId ?? null,
                state: body.state,
                created_at: now,
                updated_at: now,
              },
            ]);
            await connection.query('INSERT INTO account_links SET ?', [
              {
                account_id: account.insertId,
                consumer_id: userId,
                is_main: isMain,
                main_of_consumer_id: isMain ? userId : null,
                linked_at: now,
                delinked_at: null,
              },
            ]);
          }
          const row = operation({
            start,
            row: {
              operation: 'REGISTER',
              status: status === 204 ? 'SUCCESSFUL' : 'FAILED',
              error_code: status === 204 ? null : 'ERR01141',
              requestor_type: 'ISSUER',
              consumer_id: body.consumerId,
              consumer_key: key,
              account_number: accountNumber,
            },
          });
          await connection.query('INSERT INTO `operations` SET ?', [row]);
          return status === 204
            ? [204, undefined]
            : [409, { errorCode: 'ERR01141', message: 'The account is registered to another consumer.' }];
        });
      } catch (error) {
        // Racing first registrations of one consumer collide on the unique keys, as in the service: retry.
        if (attempt < 4 && (error.errno === 1062 || error.errno === 1213 || error.errno === 1205)) continue;
        throw error;
      }
    }
  }

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(res, 400, failure('ERR01101', 'The request body must be a JSON object.'));
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return send(res, 400, failure('ERR01101', 'The request body must be a JSON object.'));
      let work;
      const registerPath = req.method === 'PUT' ? REGISTER_PATH.exec(req.url) : null;
      if (req.method === 'POST' && (req.url === DELINK_PATH || req.url === GET_LINKS_PATH)) {
        // The smallest check that still refuses what the service refuses with ERR01100.
        const valid =
          isText(body.Source, /^[A-Za-z0-9 _-]{1,50}$/) &&
          isText(body.ExternalIP, /^[0-9A-Fa-f:.]{2,50}$/) &&
          body.APIVersion === '2.0' &&
          isText(body.SSUserID, /^[A-Za-z0-9]{1,30}$/) &&
          (req.url === GET_LINKS_PATH || isText(body.AccountNumber, /^\d{1,19}$/));
        if (!valid) return send(res, 400, failure('ERR01100', 'The request has invalid fields.'));
        work = req.url === DELINK_PATH ? delink(body) : linkedAccounts(body);
      } else if (
        registerPath !== null &&
        registerPath[1] === issuerId &&
        isText(body.consumerId, /^[A-Za-z0-9]{1,30}$/) &&
        ['ACTIVE', 'INACTIVE'].includes(body.state)
      ) {
        work = register(registerPath[2], body);
      } else {
        return send(res, 404, failure('ERR01134', 'No such endpoint.'));
      }
      work.then(
        ([status, answer]) => send(res, status, answer),
        (error) => {
          console.error(JSON.stringify({ msg: 'request failed', error: String(error?.message ?? error) }));
          send(res, 500, failure('ERR01199', 'An unexpected error occurred.'));
        },
      );
    });
  });
  server.keepAliveTimeout = 5_000;
  listening(server, () => pool.end().catch(() => undefined));
}

if (kind === 'raw') await raw();
else if (kind === 'express') await bareExpress();
else {
  console.error('usage: node bench/baselines.mjs raw|express');
  process.exit(2);
}
