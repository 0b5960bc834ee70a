#!/usr/bin/env node
// Production entry: runs the compiled commands in dist/ (no ts-node). execute() prints errors
// and sets the exit status itself.
require('@oclif/core').execute({dir: __dirname})
