// Runs the official npm vigil-reporter, unmodified, for `seconds` seconds,
// then stops it. Usage: node client.js <url> <token> <probe> <node> <replica> <interval> <seconds>
"use strict";

var VigilReporter = require("vigil-reporter").VigilReporter;
var args = process.argv.slice(2);

var reporter = new VigilReporter({
  url: args[0],
  token: args[1],
  probe_id: args[2],
  node_id: args[3],
  replica_id: args[4],
  interval: parseInt(args[5], 10),
  console: {
    log: function() {},
    info: function() {},
    warn: console.error,
    error: console.error,
    debug: function() {}
  }
});

setTimeout(function() {
  reporter.end();
  process.exit(0);
}, parseInt(args[6], 10) * 1000);
