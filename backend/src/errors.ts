/**
 * The base of every error Tapline throws on purpose (control-flow errors that never leave their
 * module, like query/match.ts's NotInMemory, stay plain Errors).
 *
 * - `code` is stable and machine-readable: UPPER_SNAKE, prefixed by its area (`STORE_LOCKED`,
 *   `STORE_MIGRATION`, `HUB_CONFIG`). Code values that callers already match on keep their old
 *   spelling: the HTTP API's vocabulary (ApiError's `bad_filter`, `not_found`…, docs/api.md) and
 *   FilterError's `bad_filter` (the answer it becomes) stay lowercase, and so, for now, do
 *   KubeError's (`sync_timeout`…, which tests match on); CaptureError's codes (`FILE_OPEN`,
 *   `BAD_RECORD`…, matched on by agent/import-file.ts and tests) keep no `CAPTURE_` prefix.
 * - `name` is the subclass's name (`StoreLockedError`), set here.
 * - `cause` goes through to Error (ES2022 ErrorOptions), for subclasses that take options.
 */
export abstract class TaplineError extends Error {
  abstract readonly code: string;

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
