// Loads dist/features.js (src/vscode/features.ts) the first time something needs it. esbuild leaves this require
// alone (esbuild.mjs marks ./features.js external), so at run time it resolves next to dist/extension.js.
import type * as FeaturesModule from './features';

export type Features = typeof FeaturesModule;

let loaded: Features | undefined;

export function features(): Features {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require('./features.js') as Features);
}

/** Whether the features bundle has been loaded (for the activation benchmark and its test). */
export function featuresLoaded(): boolean {
  return loaded !== undefined;
}
