/**
 * How the command line talks: one-line errors with a hint, exit codes, tokens read from a file or stdin
 * (never required on the command line, where `ps` shows them), and a quiet exit when stdout's reader
 * goes away (`claimgate … | head -1`).
 */
import { readFileSync } from 'node:fs';

/** Exit codes: 0 ok, 1 the thing checked is bad or could not start, 2 usage error, 3 a denial / not ready. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string, usage: string) => new CliError(`${message}\n\n${usage}`, 2);

export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * A closed stdout (EPIPE) ends the command quietly: the reader has all it wanted. Node raises it as
 * an 'error' event on stdout, which would otherwise be an uncaught exception with a stack.
 */
export function exitQuietlyOnEpipe(): void {
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
}

export interface TokenSources {
  readonly 'token-file'?: string;
  readonly 'token-stdin'?: boolean;
  /** Discouraged: visible in `ps` and shell history; kept for scripts. */
  readonly token?: string;
}

/** The token from `--token-file`, `--token-stdin` or `--token`, trimmed; undefined when none was given. */
export function readToken(sources: TokenSources): string | undefined {
  const given = [sources['token-file'] !== undefined, sources['token-stdin'] === true, sources.token !== undefined];
  if (given.filter(Boolean).length > 1)
    throw new CliError('give the token one way: --token-file, --token-stdin or --token', 2);
  let text: string | undefined;
  if (sources['token-file'] !== undefined) text = readFileOrFail(sources['token-file'], 'token file');
  else if (sources['token-stdin'] === true) {
    // A terminal would wait for typed input that nobody expects to give: say how to pipe one instead.
    if (process.stdin.isTTY)
      throw new CliError(
        '--token-stdin reads a piped token, e.g. `claimgate demo token | claimgate check --token-stdin`',
        2,
      );
    text = readFileOrFail(0, 'standard input');
  } else text = sources.token;
  if (text === undefined) return undefined;
  const token = text.trim();
  if (token === '') throw new CliError('the token is empty', 2);
  if (/\s/.test(token)) throw new CliError('the token contains whitespace: give one compact JWT', 2);
  return token;
}

function readFileOrFail(path: string | 0, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot read ${what}${path === 0 ? '' : ` ${path}`}: ${code ?? (e as Error).message}` +
        (code === 'ENOENT' ? ' (no such file: check the path)' : ''),
    );
  }
}

/**
 * Start-up failures in one line with what to do. `listeners` maps each address claimgate tried to
 * bind to the setting or flag that moves it.
 */
export function startFailure(error: Error, listeners: Readonly<Record<string, string>>): CliError {
  const m = /cannot listen on (\S+): .*(EADDRINUSE|EACCES|EADDRNOTAVAIL)/.exec(error.message);
  if (m !== null) {
    const [, address = '', code] = m;
    const port = address.slice(address.lastIndexOf(':') + 1);
    const how = listeners[address] ?? 'change the listen address in the config';
    const what =
      code === 'EADDRINUSE'
        ? `port ${port} is in use`
        : code === 'EACCES'
          ? `no permission to listen on ${address}`
          : `${address} is not an address of this machine`;
    return new CliError(`cannot start: ${what}; ${how}`);
  }
  return new CliError(`cannot start: ${error.message}`);
}
