// oclif writes through console.log, which jest buffers and may swallow: print straight to the streams.
global.console = new (require('node:console').Console)({stdout: process.stdout, stderr: process.stderr})
