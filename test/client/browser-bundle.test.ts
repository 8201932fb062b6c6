/** The browser entry bundles with esbuild for the browser platform: no Node-only import anywhere in its graph. */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('browser bundle', () => {
  it('src/client/browser.ts bundles for the browser without any Node built-in', async () => {
    const result = await build({
      entryPoints: ['src/client/browser.ts'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      minify: true,
      write: false,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/\bnode:|require\(/);
    expect(code.length).toBeLessThan(100_000);
  });
});
