import { TaplineError } from '../errors.js';

/** A filter that cannot be parsed or type-checked. `column` is 1-based, as in the message. */
export class FilterError extends TaplineError {
  override readonly code = 'bad_filter';
  constructor(
    message: string,
    readonly column: number,
    /** What the parser would have accepted at `column`, when that is a short list. */
    readonly expected?: string[],
  ) {
    super(`${message} at column ${column}`);
  }
}
