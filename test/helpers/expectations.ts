// What the contract promises every answer of a kind looks like, written once for the suites that assert it.
import type { Response } from './api';

/** The head of every CoreCredit success envelope (the documented sample response). */
export const SUCCESS = { Message: 'Return Successfully.', Status: true, ErrorCode: 'ERR01093' } as const;

/** DeLinkAccount's success: the documented sample response, exactly. */
export const DELINK_SUCCESS = { ...SUCCESS, ResponseData: {} } as const;

/**
 * The issuer API's error body: exactly errorCode, message and the correlation id the response header carries; with
 * `fields`, the validation errors name exactly these fields, in this order.
 */
export function expectIssuerError(res: Response, status: number, errorCode: string, fields?: string[]): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const correlationId: unknown = res.headers['x-correlation-id'];
  expect(typeof correlationId).toBe('string');
  expect(res.body).toStrictEqual({
    errorCode,
    message: expect.any(String),
    correlationId,
    ...(fields !== undefined ? { errors: fields.map((field) => ({ field, message: expect.any(String) })) } : {}),
  });
}
