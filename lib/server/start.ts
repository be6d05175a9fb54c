/**
 * Starting and stopping the reward server. On SIGTERM / SIGINT the server stops accepting
 * connections, lets requests in flight finish, then exits 0; a second signal exits at once.
 */
import type { FastifyInstance } from 'fastify';
import { createServer, type ServerOptions } from './app.js';

export interface RunningServer {
  app: FastifyInstance;
  /** `http://host:port` */
  url: string;
  port: number;
  host: string;
  /** Stops accepting, waits for requests in flight, closes. */
  close(): Promise<void>;
}

export interface StartOptions extends ServerOptions {
  /** Install SIGTERM/SIGINT handlers that close gracefully and exit the process (the CLI does). */
  handleSignals?: boolean;
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const app = await createServer(opts);
  await app.listen({ host, port: opts.port ?? 8000 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 8000);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const running: RunningServer = { app, url: `http://${shownHost}:${port}`, port, host, close: () => app.close() };

  if (opts.handleSignals) {
    let closing = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (closing) {
        process.stderr.write(`mixed-reward serve: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      closing = true;
      process.stderr.write(`mixed-reward serve: ${signal}, finishing requests in flight\n`);
      app.close().then(
        () => process.exit(0),
        (err: Error) => {
          process.stderr.write(`mixed-reward serve: error while closing: ${err.message}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  return running;
}
