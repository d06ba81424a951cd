// A failure the command-line client explains in one line and exits on.

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A usage mistake: exit status 2, as for other command-line tools. */
export const usageError = (message: string): CliError => new CliError(message, 2);
