/** Paths every test tier uses. */
import * as path from 'node:path'

/** The repository root (this file is test/helpers/paths.ts). */
export const ROOT = path.resolve(__dirname, '..', '..')
/** The compiled addon, absolute: for probe scripts run in other namespaces (see nodeArgv in run.ts). */
export const ADDON_PATH = path.join(ROOT, 'build', 'nslocate.node')
/** Where the C test programs (fixtures/holders, fixtures/victims) are compiled. */
export const TEST_BIN_DIR = path.join(ROOT, 'build', 'test-holders')
