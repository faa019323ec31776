#!/usr/bin/env bash
# Regenerates Erc20.bin.hex (creation code, constructor(uint256 supply)) and
# Erc20.bin-runtime.hex (deployed code) from Erc20.sol with solcjs from the npm registry.
# Usage: benches/evm/gen.sh   (needs node + npm; installs solc into a temp dir)
set -euo pipefail
SOLC_VERSION=0.8.28
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm install --silent --no-audit --no-fund "solc@${SOLC_VERSION}" >/dev/null)
cd "$work"
node - "$here" <<'JS'
const fs = require('fs');
const path = require('path');
const solc = require('solc');
const dir = process.argv[2];
const input = {
  language: 'Solidity',
  sources: { 'Erc20.sol': { content: fs.readFileSync(path.join(dir, 'Erc20.sol'), 'utf8') } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of out.errors || []) {
  console.error(e.formattedMessage);
  if (e.severity === 'error') process.exit(1);
}
const c = out.contracts['Erc20.sol'].Erc20;
fs.writeFileSync(path.join(dir, 'Erc20.bin.hex'), c.evm.bytecode.object + '\n');
fs.writeFileSync(path.join(dir, 'Erc20.bin-runtime.hex'), c.evm.deployedBytecode.object + '\n');
console.log('solc ' + solc.version() + ': creation ' + c.evm.bytecode.object.length / 2 +
  ' bytes, runtime ' + c.evm.deployedBytecode.object.length / 2 + ' bytes');
JS
