/** The app and reloader commands the container tests run, which docs/sidecar.md's Compose file must match. */
export const HUP_LOOP = 'trap "echo HUP >> /run/app/hup.log" HUP; while :; do sleep 0.1; done'
export const APP_CMD = ['run', 'hupper', '--dir', '/run/app', '--', 'sh', '-c', HUP_LOOP]
export const RELOADER_CMD = ['reload', 'hupper', '--pidfile', '/run/app/hupper.pid', '--watch', '/config', '--debounce', '200ms']
/** [hostDir, containerDir] as the tests bind them (host dirs are temp dirs there, /srv/app/... in the docs) */
export const APP_MOUNTS = ['/run/app']
export const RELOADER_MOUNTS = ['/run/app', '/config']
