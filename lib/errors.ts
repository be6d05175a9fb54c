/**
 * Typed errors. Every error the package throws on purpose carries a stable `code` and is
 * `instanceof MixedRewardError`; each one also extends the built-in class users would expect
 * (`TypeError` for a wrong type, `RangeError` for a value out of range), so both checks work.
 * The native addons receive these classes at load time and throw instances of them.
 */

const BRAND: unique symbol = Symbol.for('mixed-reward.error');

export type ErrorCode =
  | 'ERR_INVALID_ARG'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_TOKEN_RANGE'
  | 'ERR_BAD_BOXES'
  | 'ERR_BAD_SAMPLE'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_MODEL_LOAD'
  | 'ERR_NATIVE'
  | 'ERR_DISPOSED';

function brand(err: Error, code: ErrorCode, name: string): void {
  Object.defineProperty(err, BRAND, { value: true });
  Object.defineProperty(err, 'name', { value: name, writable: true, configurable: true });
  (err as unknown as { code: ErrorCode }).code = code;
}

/** Base class of every error this package throws; `instanceof` also matches the subclasses
 * that extend `TypeError` / `RangeError`. */
export class MixedRewardError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = 'ERR_NATIVE') {
    super(message);
    this.code = code;
    brand(this, code, new.target.name);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** An argument of the wrong type or shape (not a TypedArray, not a string, …). */
export class InvalidArgumentError extends TypeError {
  readonly code = 'ERR_INVALID_ARG' as const;
  constructor(message: string) {
    super(message);
    brand(this, 'ERR_INVALID_ARG', 'InvalidArgumentError');
  }
}

/** A value of the right type outside its allowed range (a negative tolerance, a threshold of 2, …). */
export class ValueRangeError extends RangeError {
  readonly code = 'ERR_OUT_OF_RANGE' as const;
  constructor(message: string) {
    super(message);
    brand(this, 'ERR_OUT_OF_RANGE', 'ValueRangeError');
  }
}

/** A token id outside [0, vocabSize), or not an integer. Raised before any memory is read. */
export class TokenRangeError extends RangeError {
  readonly code = 'ERR_TOKEN_RANGE' as const;
  constructor(message: string) {
    super(message);
    brand(this, 'ERR_TOKEN_RANGE', 'TokenRangeError');
  }
}

/** Box arrays whose length is not a multiple of 4, or unequal box counts where they must match. */
export class BoxError extends RangeError {
  readonly code = 'ERR_BAD_BOXES' as const;
  constructor(message: string) {
    super(message);
    brand(this, 'ERR_BAD_BOXES', 'BoxError');
  }
}

/** A malformed sample given to `mixedReward` (unknown task, missing or mistyped answer). */
export class SampleError extends MixedRewardError {
  /** Index of the offending sample in the input array. */
  readonly index: number;
  constructor(message: string, index: number) {
    super(message, 'ERR_BAD_SAMPLE');
    this.index = index;
  }
}

/** A backend asked for explicitly that is not available here (`reason` says why). */
export class BackendUnavailableError extends MixedRewardError {
  readonly backend: string;
  readonly reason: string;
  constructor(backend: string, reason: string) {
    super(`backend '${backend}' is not available: ${reason}`, 'ERR_BACKEND_UNAVAILABLE');
    this.backend = backend;
    this.reason = reason;
  }
}

/** A model directory, tokenizer or safetensors file that cannot be loaded. */
export class ModelLoadError extends MixedRewardError {
  constructor(message: string) {
    super(message, 'ERR_MODEL_LOAD');
  }
}

/** Use of an `EmbeddingTable` after `dispose()`. */
export class DisposedError extends MixedRewardError {
  constructor(message: string) {
    super(message, 'ERR_DISPOSED');
  }
}

/** An unexpected failure inside a native kernel (CUDA error, allocation failure). */
export class NativeError extends MixedRewardError {
  constructor(message: string) {
    super(message, 'ERR_NATIVE');
  }
}

/** The classes handed to the native addons so that C++ throws the same typed errors as TS. */
export const errorClasses = {
  InvalidArgumentError,
  ValueRangeError,
  TokenRangeError,
  BoxError,
  NativeError,
} as const;
