// zod/mini (tens of KB bundled, against 450 KB for classic zod) keeps the extension small and its activation fast.
// Import it as `import * as z from 'zod/mini'` with static member access only (never re-export the namespace: that
// would defeat tree shaking). This module loads the English messages once and attaches setting metadata.
import * as z from 'zod/mini';
// The .cjs path is what TypeScript (CommonJS output) accepts; esbuild.mjs swaps in the ESM file, which shares zod's
// core with zod/mini instead of bundling a second, CommonJS copy of it.
import en from 'zod/v4/locales/en.cjs';

z.config(en());

/** Registers a description (and extra JSON-schema metadata such as enumDescriptions) for `schema`. */
export function described<T extends z.core.$ZodType>(schema: T, description: string, extra: Record<string, unknown> = {}): T {
  z.globalRegistry.add(schema, { description, ...extra });
  return schema;
}
