import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../backend/packageRoot.js';

/** The `version` of the package's package.json; 'unknown' when it cannot be read. */
export function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
