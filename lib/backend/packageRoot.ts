import * as fs from 'node:fs';
import * as path from 'node:path';

function isOurPackage(dir: string): boolean {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
    return pkg.name === 'mixed-reward';
  } catch {
    return false;
  }
}

/** The package's root folder (the one whose package.json names mixed-reward), found from this
 * compiled file's location (`dist/lib/backend/` when installed or built). */
export const packageRoot: string = (() => {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (isOurPackage(dir)) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', '..', '..');
})();
