// Shared start of the command-line tools: configuration from the environment (and .env), with readable failures.
import 'reflect-metadata';
import { type Config, ConfigError, loadConfig, loadDotEnv } from '../config';

export function cliConfig(): Config {
  loadDotEnv();
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

export function fail(message: string): never {
  console.error(message);
  process.exit(1);
}
