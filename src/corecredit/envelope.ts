// CoreCredit's response envelope, for every answer of this face, errors included.
import type { Response } from 'express';
import { ERRORS } from '../errors';
import { locals } from '../http/context';
import type { ErrorBody } from '../http/errors';

export interface CoreCreditEnvelope {
  Message: string;
  Status: boolean;
  ErrorCode: string;
  ResponseData: Record<string, unknown>;
}

export function sendSuccess(res: Response, responseData: Record<string, unknown> = {}): void {
  const body: CoreCreditEnvelope = {
    Message: ERRORS.SUCCESS.message,
    Status: true,
    ErrorCode: ERRORS.SUCCESS.code,
    ResponseData: responseData,
  };
  locals(res).errorCode = ERRORS.SUCCESS.code;
  res.status(200).json(body);
}

/** Validation errors list every failing field in `ResponseData.Errors`. */
export const envelopeError: ErrorBody = (error): CoreCreditEnvelope => ({
  Message: error.message,
  Status: false,
  ErrorCode: error.code,
  ResponseData:
    error.details !== undefined ? { Errors: error.details.map((d) => ({ Field: d.field, Message: d.message })) } : {},
});
