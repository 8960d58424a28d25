// A mistake in how the grader was called or configured (unknown exercise, bad flag, broken
// exercise.json). The CLI prints its message on one line and exits 2.
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
