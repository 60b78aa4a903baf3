// cri-logrotate.wasm: the rules behind one ABI (docs/abi.md). Exports live in assembly/abi/ only.
export * from "./abi/exports";
export * from "./abi/credit";
export * from "./abi/fluentbit";
