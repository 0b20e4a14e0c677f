import { execFileSync } from 'node:child_process';

/** vitest globalSetup: tests that start real processes run the built CLI and package. */
export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit', cwd: new URL('../..', import.meta.url).pathname });
}
