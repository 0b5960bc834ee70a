#!/usr/bin/env node
// Placeholder until the docs generator lands: nothing to generate yet.
