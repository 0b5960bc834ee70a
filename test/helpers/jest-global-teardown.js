'use strict'
module.exports = () => require('./jest-cgroup').teardown()
