import * as fs from 'node:fs';
import * as path from 'node:path';

/** The package's root folder (holding package.json), found from this compiled file's location
 * (`dist/lib/backend/` in the package, or `lib/backend/` under a TS runner). */
export const packageRoot: string = (() => {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'lib'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', '..', '..');
})();
