// The daemons tier's table is rebuilt from this run's rows only (test/daemons/helpers/suite.ts).
const fs = require('node:fs')
const path = require('node:path')
module.exports = async () => {
  fs.rmSync(path.join(__dirname, '..', '..', '..', 'build', 'daemons-table', 'rows'), {recursive: true, force: true})
}
