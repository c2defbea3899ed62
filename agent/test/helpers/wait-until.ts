/** Poll a condition every 10 ms; reject after `limitMs` so a broken test fails instead of hanging. */
export async function waitUntil(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The same for a condition that must ask something (a CLI run, a request): polled every `intervalMs`. */
export async function waitUntilAsync(condition: () => Promise<boolean>, what: string, limitMs = 10_000, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
