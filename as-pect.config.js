// as-pect runs the rule specs in test/assembly/ through WebAssembly. The specs are built by
// as-pect.asconfig.json, which deliberately does NOT extend ./asconfig.json: the wasi-shim's abort
// path would crash as-pect on the first failing expectation (see shared reference/toolchain.md).
export default {
  entries: ["test/assembly/**/*.spec.ts"],
  include: ["test/assembly/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
