export { createServer, HttpError, DEFAULT_BODY_LIMIT, type ServerOptions } from './app.js';
export { startServer, type RunningServer, type StartOptions } from './start.js';
export { responseFromQuery, stripTrailingTokens, labelToSample, END_TOKENS } from './openrlhf.js';
export { MicroBatcher, type BatcherOptions } from './batcher.js';
