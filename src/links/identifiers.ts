// The identifiers of the domain and their rules: one place, read by both faces, the token check and the CLIs.

/** A card issuer: exactly 10 letters, digits, `_` or `-`. All data is scoped by issuer. */
export const ISSUER_ID_PATTERN = /^[A-Za-z0-9_-]{10}$/;

/** A consumer (CoreCredit's SSUserID, the issuer API's consumerId): 1 to 30 letters or digits. */
export const CONSUMER_ID_PATTERN = /^[A-Za-z0-9]{1,30}$/;

/** An account (CoreCredit's AccountNumber, the issuer API's accountId): 1 to 19 digits. */
export const ACCOUNT_NUMBER_PATTERN = /^\d{1,19}$/;

/**
 * Consumer ids compare case-insensitively on every database: `MyUserID` and `myuserid` are one consumer. The key is
 * what the database matches on, so that no collation decides it.
 */
export const consumerKey = (consumerId: string): string => consumerId.toLowerCase();

/** A token bound to one consumer (a logged-in portal user) may act for no other. */
export function boundElsewhere(boundConsumerId: string | undefined, consumerId: string): boolean {
  return boundConsumerId !== undefined && consumerKey(boundConsumerId) !== consumerKey(consumerId);
}
