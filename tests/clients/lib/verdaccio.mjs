// A real verdaccio (tests/clients/verdaccio/config.yaml) on a loopback port,
// reachable only through pat-sidecar (the verdaccio-pat-trust plugin refuses
// every request without the sidecar's X-Pat-Token-Id).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort, Service, waitFor } from './procs.mjs';

export const CLIENTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN_DIR = path.join(CLIENTS_DIR, 'node_modules', '.bin');

// Started under `stack` (a PatStack), whose stop() stops it.
export async function startVerdaccio(stack, dir, env) {
  const storage = path.join(dir, 'verdaccio');
  fs.mkdirSync(storage, { recursive: true });
  for (let attempt = 0; ; ++attempt) {
    const port = await freePort();
    const config = fs.readFileSync(path.join(CLIENTS_DIR, 'verdaccio', 'config.yaml'), 'utf8')
      .replaceAll('@STORAGE@', storage)
      .replaceAll('@PLUGINS@', path.join(CLIENTS_DIR, 'verdaccio', 'plugins'))
      .replaceAll('@LISTEN@', `127.0.0.1:${port}`);
    const configFile = path.join(storage, 'config.yaml');
    fs.writeFileSync(configFile, config);
    const v = stack.adopt(new Service('verdaccio', process.execPath,
      [path.join(CLIENTS_DIR, 'node_modules', 'verdaccio', 'bin', 'verdaccio'), '--config', configFile],
      { env, cwd: storage, logFile: path.join(dir, `verdaccio-${attempt}.log`) }));
    try {
      // Ready when it answers; the trust plugin refuses this direct call.
      await waitFor(async () => {
        if (v.exited) throw new Error(`verdaccio exited:\n${v.log()}`);
        try {
          return (await fetch(`http://127.0.0.1:${port}/-/ping`)).status === 403;
        } catch {
          return false;
        }
      }, 'verdaccio to answer', 60000);
      v.port = port;
      return v;
    } catch (e) {
      await v.stop();
      // The port was taken between freePort() and verdaccio's listen.
      if (attempt < 2 && /EADDRINUSE/.test(v.log())) continue;
      throw e;
    }
  }
}
