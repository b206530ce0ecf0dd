import * as path from 'node:path';

/** The repository root, from out/test/support (compiled) or test/support (source). */
export const repoRoot = path.resolve(__dirname, __dirname.includes(`${path.sep}out${path.sep}`) ? '../../..' : '../..');
